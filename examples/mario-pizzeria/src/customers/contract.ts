// What clients see of customers: erasing one on request (handler-free: the browser imports it).
import { command } from '@myelin/core';
import { del } from '@myelin/http/client';
import * as z from 'zod';
import { shownText } from '../shared/shownText.ts';

export const EraseCustomer = command(
  'EraseCustomer',
  z.object({
    customerId: z
      .string()
      .min(1)
      // 'customer-' and a user id of up to 255 characters, OpenID Connect's most (the bearer authenticator
      // refuses a longer one): every customer can be erased.
      .max(264)
      .regex(/^(customer|guest)-./, 'A customer id is customer-<user id> or guest-<order id>')
      .describe(
        "Whose orders: customer-<user id> for a signed-in customer, guest-<order id> for an order placed without signing in (each order's customerId)",
      ),
    // Shown in the console's record of erasures: no control or text-direction characters.
    reason: shownText(200)
      .optional()
      .describe('Why, kept with the record of the erasure: a ticket number, never personal data'),
  }),
  {
    description:
      "A manager erases a customer's personal data at their request: their profile, and their name, phone, address, e-mail and notes wherever the pizzeria keeps them (the log's copies can no longer be read). Their orders stay, counted in the statistics and shown to staff with those fields erased; the customer can no longer read them.",
  },
).returns<void>();

export const customersRoutes = {
  eraseCustomer: del('/api/customers/{customerId}', EraseCustomer, {
    problems: [404],
    tags: ['customers'],
    summary: "Erase a customer's personal data",
  }),
};
