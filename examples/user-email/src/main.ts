// Runs the user-email example: `npm start` at the repository root.
import { createApplication, logging } from '@myelin/core';
import { inMemoryPersistence } from '@myelin/core/memory';
import { GetUserInfo, RegisterUser, UpdateUserEmail, usersModule } from './users.ts';

const quiet = () => undefined;
const console_ = {
  debug: quiet,
  info: (fields: object, message?: string) => console.log(`  log: ${message}`, JSON.stringify(fields)),
  warn: quiet,
  error: (fields: object, message?: string) => console.error(`  log: ${message}`, fields),
};

await using app = await createApplication()
  .include(inMemoryPersistence(), usersModule())
  .use(logging(console_))
  .build();
const { mediator } = app;

const show = (label: string, value: unknown) => console.log(`${label}\n  ${JSON.stringify(value)}\n`);

show(
  'RegisterUser mario',
  await mediator.execute(new RegisterUser({ userId: 'u1', name: 'Mario', email: 'mario@pizzeria.example' })),
);
show(
  'GetUserInfo u1 (read store, filled by UserRegistered)',
  await mediator.execute(new GetUserInfo({ userId: 'u1' })),
);
show(
  'UpdateUserEmail u1',
  await mediator.execute(new UpdateUserEmail({ userId: 'u1', email: 'chef@pizzeria.example' })),
);
show(
  'GetUserInfo u1 (updated by UserEmailUpdated)',
  await mediator.execute(new GetUserInfo({ userId: 'u1' })),
);
show(
  'UpdateUserEmail with a bad address (400 naming the field)',
  await mediator.execute(new UpdateUserEmail({ userId: 'u1', email: 'not-an-email' })),
);
show(
  'UpdateUserEmail for an unknown user (404)',
  await mediator.execute(new UpdateUserEmail({ userId: 'u9', email: 'x@y.example' })),
);
