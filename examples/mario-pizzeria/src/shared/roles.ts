/** The roles of the pizzeria's staff, as their tokens' `roles` claim carries them. Customers need none. */
export const roles = {
  customer: 'customer',
  chef: 'chef',
  driver: 'driver',
  manager: 'manager',
  /** The process itself, for what it does at start-up (seeding the menu); no token carries it. */
  system: 'system',
} as const;

/** Who the process is when it acts on its own. */
export const systemPrincipal = { subject: 'system', roles: [roles.system] } as const;
