// Type tests: checked by `npm run typecheck` (tsc), never run. A `@ts-expect-error` that finds no error fails the check.
import { z } from 'zod';
import { event } from '../messages/message.ts';

const schema = z.object({
  customerId: z.string(),
  name: z.string(),
  email: z.string().optional(),
  birthYear: z.number(),
  tags: z.array(z.string()),
});

// Text fields are personal by name; the subject is a text field of the payload.
event('types.a.v1', schema, { personal: { subject: 'customerId', fields: ['name', 'email'] } });
// Other fields say what they read as once forgotten, in their own type.
event('types.b.v1', schema, {
  personal: { subject: 'customerId', placeholders: { birthYear: 0, tags: [] } },
});

// @ts-expect-error a number is not a text field: it needs a placeholder of its type
event('types.c.v1', schema, { personal: { subject: 'customerId', fields: ['birthYear'] } });
// @ts-expect-error the subject names a text field of the payload
event('types.d.v1', schema, { personal: { subject: 'birthYear', fields: ['name'] } });
// @ts-expect-error a field the payload does not have
event('types.e.v1', schema, { personal: { subject: 'customerId', fields: ['phone'] } });
// @ts-expect-error a placeholder of the wrong type
event('types.f.v1', schema, { personal: { subject: 'customerId', placeholders: { birthYear: 'unknown' } } });
