import { badRequest, command, created, type FieldError, handler } from '@myelin/core';
import { z } from 'zod';
import { Customer, customerIdFor } from '../../domain/customer.ts';
import { type MenuPizza, menuKey } from '../../domain/menuPizza.ts';
import { Order } from '../../domain/order.ts';
import { OrderItem, sizes, toppings } from '../../domain/orderItem.ts';
import { Clock } from '../clock.ts';
import { mapper, OrderDto } from '../dtos.ts';
import { Customers, MenuPizzas, Orders } from '../repositories.ts';

/** Optional text fields of a form: an empty one counts as not given. */
const optionalText = (max: number) => z.string().trim().max(max).optional();

export const PizzaLine = z.object({
  name: z.string().trim().min(1).max(60),
  size: z.enum(sizes),
  toppings: z
    .array(z.enum(toppings))
    .max(toppings.length)
    .refine((chosen) => new Set(chosen).size === chosen.length, 'Each topping can be chosen once')
    .default([]),
});

export const PlaceOrder = command(
  'PlaceOrder',
  z.object({
    customerName: z.string().trim().min(1).max(100),
    customerPhone: z
      .string()
      .trim()
      .max(30)
      .regex(/^\+?[0-9 ()./-]*$/, 'Use digits, spaces and + ( ) . / -')
      .refine((phone) => phone.replaceAll(/\D/g, '').length >= 3, 'A phone number has at least 3 digits'),
    customerAddress: optionalText(200),
    customerEmail: z.union([z.email().max(200), z.literal('')]).optional(),
    // No minimum here: an empty order is the domain's rule, answered with its own words.
    pizzas: z.array(PizzaLine).max(20),
    notes: optionalText(500),
  }),
  { description: 'Places an order; the customer is found by phone, or registered' },
).returns<OrderDto>();

/**
 * Places an order: prices each pizza from the menu, finds the customer by phone (or registers them, or updates
 * the details they gave), and adds the new order. The unit of work writes the customer's document, the order's
 * events and the inline read models in one transaction, after this returns.
 */
export const placeOrder = handler(
  PlaceOrder,
  { orders: Orders, customers: Customers, menu: MenuPizzas, clock: Clock },
  async (cmd, { orders, customers, menu, clock }) => {
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
      if (!found.has(key)) found.set(key, (await menu.find({ where: { key, available: true } })).items[0]);
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
    if (unknown.length > 0) return badRequest(`Not on the menu: ${[...unknownNames].join(', ')}`, unknown);

    const address = cmd.customerAddress || undefined;
    const email = cmd.customerEmail || undefined;
    let customer = await customers.get(customerIdFor(cmd.customerPhone));
    if (customer === undefined) {
      customer = Customer.register(cmd.customerPhone, cmd.customerName, address, email);
      await customers.add(customer);
    } else {
      customer.updateDetails(cmd.customerName, address, email);
      if (customer.pendingEvents.length > 0) await customers.update(customer);
    }

    const { name, phone } = customer.state;
    const details = {
      customerId: customer.id,
      name,
      phone,
      address: customer.state.address,
      email: customer.state.email,
    };
    // It has pizzas (checked above), so the domain's own refusal of an empty order cannot happen here.
    const order = Order.place(crypto.randomUUID(), details, items, cmd.notes || undefined, clock());
    await orders.add(order);
    return created(mapper.map(order, OrderDto), `/api/orders/${order.id}`);
  },
);
