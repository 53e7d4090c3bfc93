import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import type { ExecutionContext, Principal } from '../mediation/executionContext.ts';
import { type AnyMessageDefinition, definitionOf, type Message } from '../messages/message.ts';
import { forbidden, unauthorized } from '../results/operationResult.ts';

/**
 * Who may send a message. With no `anonymous`, a principal is required (401 without one); then it must hold one
 * of `roles`, if given, and satisfy `allow`, if given (403 otherwise).
 * @example app.authorize(CancelOrder, { roles: ['manager'] });
 * @example app.authorize(UpdateProfile, { allow: (principal, command) => principal.subject === command.userId });
 */
export interface AuthorizationPolicy<TMessage = Message> {
  /** Anyone may send it, signed in or not. */
  readonly anonymous?: boolean;
  /** The principal needs at least one of these roles. */
  readonly roles?: readonly string[];
  readonly allow?: (
    principal: Principal,
    message: TMessage,
    context: ExecutionContext,
  ) => boolean | Promise<boolean>;
}

/**
 * The two behaviors that enforce the policies. Who the caller is and which roles they hold do not depend on the
 * message, so that check runs before validation: an anonymous caller or one without the role learns nothing about
 * the message's schema from a 400, and gets the 401 or 403 that is the real answer. `allow` reads the message, so it
 * runs after validation, on the message the handler will get.
 */
export function authorization(
  policies: ReadonlyMap<AnyMessageDefinition, AuthorizationPolicy<any>>,
): Behavior[] {
  // The policy a message's sender must satisfy; none for a message anyone may send (no policy, or `anonymous`).
  const enforced = (definition: AnyMessageDefinition) => {
    const policy = policies.get(definition) as AuthorizationPolicy | undefined;
    return policy?.anonymous === true ? undefined : policy;
  };
  const policyOf = (message: Message) => {
    const definition = definitionOf(message) as AnyMessageDefinition;
    return { definition, policy: enforced(definition) as AuthorizationPolicy };
  };
  const identity = behavior(
    {
      name: 'authentication',
      order: BehaviorOrder.authentication,
      scope: (definition) => enforced(definition) !== undefined,
    },
    async (message, next, context) => {
      const { definition, policy } = policyOf(message);
      const principal = context.principal;
      if (principal === undefined)
        return unauthorized(`Sign in to ${definition.kind === 'query' ? 'ask' : 'do'} '${definition.type}'`);
      if (policy.roles !== undefined && !policy.roles.some((role) => principal.roles.includes(role))) {
        return forbidden(`'${definition.type}' requires one of the roles: ${policy.roles.join(', ')}`);
      }
      return next();
    },
  );
  const predicate = behavior(
    {
      name: 'authorization',
      order: BehaviorOrder.authorization,
      scope: (definition) => enforced(definition)?.allow !== undefined,
    },
    async (message, next, context) => {
      const { definition, policy } = policyOf(message);
      // The authentication behavior has already answered 401 to a missing principal.
      const principal = context.principal as Principal;
      if (policy.allow !== undefined && !(await policy.allow(principal, message, context))) {
        return forbidden(`You are not allowed to perform '${definition.type}'`);
      }
      return next();
    },
  );
  return [identity, predicate];
}
