import type { Module } from '@myelin/core';
import { AddMenuPizza, ChangeMenuPizza, RetireMenuPizza } from './commands/menuChanges.ts';
import {
  AssignDriver,
  CancelOrder,
  MarkDelivered,
  MarkReady,
  StartCooking,
  StartDelivery,
} from './commands/orderTransitions.ts';
import { PlaceOrder } from './commands/placeOrder.ts';
import { SeedMenu } from './commands/seedMenu.ts';
import { GetDeliveryBoard } from './queries/getDeliveryBoard.ts';
import { GetKitchenQueue } from './queries/getKitchenQueue.ts';
import { GetMenu } from './queries/getMenu.ts';
import { GetOrder } from './queries/getOrder.ts';
import { GetStatistics } from './queries/getStatistics.ts';
import { ListOrders } from './queries/listOrders.ts';
import { roles } from './roles.ts';

const { chef, driver, manager, system } = roles;

/**
 * Who may send each message, in one place. The application checks these whoever sends the message (a route, a
 * live stream, a test): without a principal a policy answers 401, without one of its roles 403. Every message
 * has one, so that a new message without a policy fails the review of this file, not in production.
 */
export const authorization: Module = (app) =>
  app
    // Anyone may order, follow their order (its id is a UUID: unguessable) and read the menu.
    .authorize(PlaceOrder, { anonymous: true })
    .authorize(GetOrder, { anonymous: true })
    .authorize(GetMenu, { anonymous: true })
    .authorize(ListOrders, { roles: [chef, driver, manager] })
    .authorize(StartCooking, { roles: [chef] })
    .authorize(MarkReady, { roles: [chef] })
    .authorize(AssignDriver, { roles: [manager] })
    .authorize(StartDelivery, { roles: [driver] })
    .authorize(MarkDelivered, { roles: [driver] })
    .authorize(CancelOrder, { roles: [manager] })
    .authorize(GetKitchenQueue, { roles: [chef, manager] })
    .authorize(GetDeliveryBoard, { roles: [driver, manager] })
    .authorize(GetStatistics, { roles: [manager] })
    .authorize(AddMenuPizza, { roles: [manager] })
    .authorize(ChangeMenuPizza, { roles: [manager] })
    .authorize(RetireMenuPizza, { roles: [manager] })
    .authorize(SeedMenu, { roles: [system] });
