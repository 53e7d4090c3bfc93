import { handler, type Module, noContent, notFound, PersonalData, unauthorized } from '@myelin/core';
import { subjectOf } from '../domain/customer.ts';
import { OrderSummaries } from '../orders/orderSummaries.ts';
import { Customers } from '../shared/repositories.ts';
import { roles } from '../shared/roles.ts';
import { EraseCustomer } from './contract.ts';

/**
 * Erases a customer: removes their profile (a state-stored document, in clear) and forgets them, which deletes
 * the key their personal data is sealed with in the log and runs the read models' erasure hooks, in this command's
 * transaction. A guest (an order placed without signing in) has no profile: their one order is forgotten alike.
 * Unknown when they have neither a profile nor an order.
 */
export const eraseCustomer: Module = (app) =>
  app.authorize(EraseCustomer, { roles: [roles.manager] }).handle(
    handler(
      EraseCustomer,
      { customers: Customers, summaries: OrderSummaries, personalData: PersonalData },
      async (cmd, { customers, summaries, personalData }, { principal }) => {
        if (principal === undefined) return unauthorized('Sign in to erase a customer');
        const customer = await customers.get(cmd.customerId);
        const orders = await summaries.find({ where: { customerId: cmd.customerId }, pageSize: 1 });
        if (customer === undefined && orders.total === 0) return notFound('Customer', cmd.customerId);
        if (customer !== undefined) await customers.remove(customer);
        // A signed-in customer's own requests: the answers kept for their idempotency keys go too.
        const subject = subjectOf(cmd.customerId);
        await personalData.forget(cmd.customerId, {
          requestedBy: principal.subject,
          ...(cmd.reason === undefined || cmd.reason === '' ? {} : { reason: cmd.reason }),
          ...(subject === undefined ? {} : { principal: subject }),
        });
        return noContent();
      },
    ),
  );
