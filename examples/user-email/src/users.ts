// The seed's first document, rebuilt: a command model writes users and raises UserEmailUpdated; an event handler
// keeps a separate read store; a query reads only that store. Everything else is Myelin's.
import {
  AggregateRoot,
  command,
  event,
  eventHandler,
  handler,
  type Module,
  notFound,
  ok,
  type QueryableRepository,
  query,
  token,
} from '@myelin/core';
import { inMemoryStateStoredRepository } from '@myelin/core/memory';
import { z } from 'zod';

export const UserRegistered = event(
  'user.registered.v1',
  z.object({ userId: z.string(), name: z.string(), email: z.email() }),
);
export const UserEmailUpdated = event(
  'user.email.updated.v1',
  z.object({ userId: z.string(), email: z.email() }),
);
type UserEvent = InstanceType<typeof UserRegistered> | InstanceType<typeof UserEmailUpdated>;

interface UserState {
  name: string;
  email: string;
}

/** The write model: a user whose email changes only through the event it raises. */
export class User extends AggregateRoot<UserState, UserEvent> {
  constructor(id: string) {
    super(id, { name: '', email: '' });
  }

  static register(id: string, name: string, email: string): User {
    const user = new User(id);
    user.raise(new UserRegistered({ userId: id, name, email }));
    return user;
  }

  updateEmail(email: string): void {
    if (email !== this.state.email) this.raise(new UserEmailUpdated({ userId: this.id, email }));
  }

  protected override apply(state: UserState, event: UserEvent): UserState {
    if (event instanceof UserRegistered) return { name: event.name, email: event.email };
    return { ...state, email: event.email };
  }
}

/** What the query side reads: a separate store, kept up to date by events only. */
export interface UserView {
  readonly userId: string;
  readonly name: string;
  readonly email: string;
}
export type ReadStore = Map<string, UserView>;

export const Users = token<QueryableRepository<User>>('Users');
export const UserViews = token<ReadStore>('UserViews');

export const RegisterUser = command(
  'RegisterUser',
  z.object({ userId: z.string().min(1), name: z.string().min(1), email: z.email() }),
).returns<{ userId: string }>();
export const UpdateUserEmail = command(
  'UpdateUserEmail',
  z.object({ userId: z.string(), email: z.email() }),
).returns<{
  userId: string;
  email: string;
}>();
export const GetUserInfo = query('GetUserInfo', z.object({ userId: z.string() })).returns<UserView>();

export const registerUser = handler(RegisterUser, { users: Users }, async (cmd, { users }) => {
  await users.add(User.register(cmd.userId, cmd.name, cmd.email));
  return ok({ userId: cmd.userId });
});

export const updateUserEmail = handler(UpdateUserEmail, { users: Users }, async (cmd, { users }) => {
  const user = await users.get(cmd.userId);
  if (user === undefined) return notFound('User', cmd.userId);
  user.updateEmail(cmd.email);
  return ok({ userId: user.id, email: user.state.email });
});

export const getUserInfo = handler(GetUserInfo, { views: UserViews }, (q, { views }) => {
  const view = views.get(q.userId);
  return view === undefined ? notFound('User', q.userId) : ok(view);
});

export const projectRegistration = eventHandler(
  'userViews.registered',
  UserRegistered,
  { views: UserViews },
  (e, { views }) => {
    views.set(e.userId, { userId: e.userId, name: e.name, email: e.email });
  },
);

export const projectEmail = eventHandler(
  'userViews.email',
  UserEmailUpdated,
  { views: UserViews },
  (e, { views }) => {
    const view = views.get(e.userId);
    if (view !== undefined) views.set(e.userId, { ...view, email: e.email });
  },
);

/** Everything about users, registered in one go. */
export const usersModule =
  (readStore: ReadStore = new Map()): Module =>
  (app) =>
    app
      .register(inMemoryStateStoredRepository(Users, User))
      .singleton(UserViews, () => readStore)
      .handle(registerUser, updateUserEmail, getUserInfo, projectRegistration, projectEmail);
