import type { AuthOptions, DevUser } from '@myelin/http';
import { roles } from '../application/roles.ts';

/**
 * The development users of API.md: each one's password is its name, and its one role too. They exist only
 * where development tokens are on (embedded mode, or DEV_TOKENS=true); never where real users are.
 */
export const devUsers: readonly DevUser[] = [roles.customer, roles.chef, roles.driver, roles.manager].map(
  (name) => ({ username: name, password: name, roles: [name] }),
);

/**
 * The development issuer: tokens signed with a secret written here, so that every process of a development
 * setup (two API processes, say) accepts the others' tokens, and a restart keeps a browser signed in. Anyone
 * who reads this file can sign tokens: production configures JWT_* instead.
 */
export const developmentAuth: AuthOptions = {
  issuer: 'mario-pizzeria-development',
  audience: 'mario-pizzeria',
  secret: 'mario-pizzeria-development-secret-never-use-in-production',
};
