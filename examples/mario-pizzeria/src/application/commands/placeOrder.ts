import { command } from '@myelin/core';
import { z } from 'zod';
import { sizes, toppings } from '../../domain/orderItem.ts';
import { OrderDto } from '../dtos.ts';

/**
 * Characters that change how text shows without being seen: bidirectional overrides and isolates, which can make
 * a name read backwards on the kitchen board, and zero-width ones, which make two names look the same.
 */
const invisible = /[\u202A-\u202E\u2066-\u2069\u200B-\u200D\u2060\uFEFF]/;

/** Text staff will read: refused, naming the field, when it hides characters. */
const shownText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((text) => !invisible.test(text), 'Remove invisible or text-direction characters');

/** Optional text fields of a form: an empty one counts as not given. */
const optionalText = (max: number) => shownText(max).optional();

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
    customerName: shownText(100).pipe(z.string().min(1)),
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
  {
    description:
      'Places an order. Signed in as a customer, it keeps the details given on their profile; without signing in, they stay on this order alone, and the 201 gives the key that reads it back.',
  },
).returns(OrderDto);
