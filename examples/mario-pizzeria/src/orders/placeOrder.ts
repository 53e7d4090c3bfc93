import { badRequest, created, type FieldError, handler, type Module } from '@myelin/core';
import { Customer, customerIdFor, guestIdFor } from '../domain/customer.ts';
import { type MenuPizza, menuKey } from '../domain/menuPizza.ts';
import { Order } from '../domain/order.ts';
import { OrderItem } from '../domain/orderItem.ts';
import { Clock } from '../shared/clock.ts';
import { Customers, MenuPizzas, Orders } from '../shared/repositories.ts';
import { roles } from '../shared/roles.ts';
import { mapper, OrderDtoTarget } from '../shared/views.ts';
import { PlaceOrder } from './contract.ts';
import { newAccessKey } from './orderAccess.ts';

/**
 * Places an order: prices each pizza from the menu and adds the new order. A signed-in customer's details go on
 * their profile (registered at their first order, updated by later ones: their own); an order placed without
 * signing in reads and changes no stored customer, since anyone can type anyone's phone number, and its 201
 * carries a key that reads it back. The unit of work writes the order's events, the customer's document and the
 * inline read models in one transaction, after this returns.
 */
export const placeOrder: Module = (app) =>
  app
    // Anyone may order, signed in or not.
    .authorize(PlaceOrder, { anonymous: true })
    .handle(
      handler(
        PlaceOrder,
        { orders: Orders, customers: Customers, menu: MenuPizzas, clock: Clock },
        async (cmd, { orders, customers, menu, clock }, { principal }) => {
          if (cmd.pizzas.length === 0) {
            return badRequest('Order must contain at least one pizza', [
              { field: 'pizzas', pointer: '#/pizzas', detail: 'Choose at least one pizza' },
            ]);
          }
          const found = new Map<string, MenuPizza | undefined>();
          const items: OrderItem[] = [];
          const unknown: FieldError[] = [];
          const unknownNames = new Set<string>();
          for (const [index, line] of cmd.pizzas.entries()) {
            const key = menuKey(line.name);
            if (!found.has(key))
              found.set(key, (await menu.find({ where: { key, available: true } })).items[0]);
            const pizza = found.get(key);
            if (pizza === undefined) {
              unknownNames.add(line.name);
              unknown.push({
                field: `pizzas[${index}].name`,
                pointer: `#/pizzas/${index}/name`,
                detail: `'${line.name}' is not on the menu`,
              });
            } else {
              items.push(OrderItem.price(pizza.state.name, line.size, line.toppings, pizza.basePrice));
            }
          }
          if (unknown.length > 0)
            return badRequest(`Not on the menu: ${[...unknownNames].join(', ')}`, unknown);

          const details = {
            name: cmd.customerName,
            phone: cmd.customerPhone,
            address: cmd.customerAddress || undefined,
            email: cmd.customerEmail || undefined,
          };
          const id = crypto.randomUUID();
          const notes = cmd.notes || undefined;
          // It has pizzas (checked above), so the domain's own refusal of an empty order cannot happen here.
          if (principal?.roles.includes(roles.customer)) {
            const customerId = customerIdFor(principal.subject);
            let customer = await customers.get(customerId);
            if (customer === undefined) {
              customer = Customer.register(customerId, details);
              await customers.add(customer);
            } else {
              customer.updateDetails(details);
              if (customer.pendingEvents.length > 0) await customers.update(customer);
            }
            const order = Order.place(id, { customerId, ...details }, items, notes, clock(), {
              placedBy: principal.subject,
            });
            await orders.add(order);
            return created(mapper.map(order, OrderDtoTarget), `/api/orders/${id}`);
          }
          const access = newAccessKey();
          const order = Order.place(id, { customerId: guestIdFor(id), ...details }, items, notes, clock(), {
            accessKeyHash: access.hash,
          });
          await orders.add(order);
          return created(
            { ...mapper.map(order, OrderDtoTarget), accessKey: access.key },
            `/api/orders/${id}?key=${access.key}`,
          );
        },
      ),
    );
