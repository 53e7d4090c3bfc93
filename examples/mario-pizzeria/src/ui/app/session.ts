// Who is signed in: the development users' tokens, kept for this tab only (sessionStorage).

const key = 'mario.session';

export interface Session {
  readonly username: string;
  readonly roles: readonly string[];
  readonly accessToken: string;
  /** When the token expires, in ms since the epoch (a little early). */
  readonly expiresAt: number;
}

const listeners = new Set<(session: Session | undefined) => void>();

/** The development users the API knows in embedded mode (password = username). */
export const devUsers = [
  {
    username: 'customer',
    role: 'customer',
    title: 'Customer',
    blurb: 'Order pizzas and follow them to your door.',
    home: '#/menu',
  },
  {
    username: 'chef',
    role: 'chef',
    title: 'Chef',
    blurb: 'Work the kitchen board: fire up orders, call them ready.',
    home: '#/kitchen',
  },
  {
    username: 'driver',
    role: 'driver',
    title: 'Driver',
    blurb: 'Pick up ready orders and deliver them hot.',
    home: '#/delivery',
  },
  {
    username: 'manager',
    role: 'manager',
    title: 'Manager',
    blurb: 'Edit the menu, dispatch drivers, watch the numbers.',
    home: '#/manager',
  },
];

/** The current session, unless there is none or its token expired. */
export function current(): Session | undefined {
  try {
    const session = JSON.parse(sessionStorage.getItem(key) ?? 'null') as Session | null;
    if (session === null || typeof session.accessToken !== 'string') return undefined;
    if (Date.now() >= session.expiresAt) {
      sessionStorage.removeItem(key);
      return undefined;
    }
    return session;
  } catch {
    return undefined;
  }
}

export const token = (): string | undefined => current()?.accessToken;

/** Whether the signed-in user has one of the roles. */
export const hasRole = (...roles: readonly string[]): boolean =>
  roles.some((role) => current()?.roles.includes(role) ?? false);

export function save(session: Session): void {
  sessionStorage.setItem(key, JSON.stringify(session));
  notify();
}

export function clear(): void {
  const had = sessionStorage.getItem(key) !== null;
  sessionStorage.removeItem(key);
  if (had) notify();
}

/** Calls `listener` after each sign-in and sign-out; returns how to stop. */
export function onChange(listener: (session: Session | undefined) => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function notify(): void {
  for (const listener of listeners) listener(current());
}

/** Where a user lands after signing in: their board. */
export function homeOf(session: Session): string | undefined {
  for (const role of ['manager', 'chef', 'driver']) {
    if (session.roles.includes(role)) return devUsers.find((user) => user.role === role)?.home ?? '#/menu';
  }
  return undefined;
}
