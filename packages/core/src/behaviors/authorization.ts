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

/** The authorization behavior: checks each message against its policy before anything else touches it. */
export function authorization(
  policies: ReadonlyMap<AnyMessageDefinition, AuthorizationPolicy<any>>,
): Behavior {
  return behavior(
    {
      name: 'authorization',
      order: BehaviorOrder.authorization,
      scope: (definition) => policies.has(definition),
    },
    async (message, next, context) => {
      const definition = definitionOf(message) as AnyMessageDefinition;
      const policy = policies.get(definition) as AuthorizationPolicy;
      if (policy.anonymous === true) return next();
      const principal = context.principal;
      if (principal === undefined)
        return unauthorized(`Sign in to ${definition.kind === 'query' ? 'ask' : 'do'} '${definition.type}'`);
      if (policy.roles !== undefined && !policy.roles.some((role) => principal.roles.includes(role))) {
        return forbidden(`'${definition.type}' requires one of the roles: ${policy.roles.join(', ')}`);
      }
      if (policy.allow !== undefined && !(await policy.allow(principal, message, context))) {
        return forbidden(`You are not allowed to perform '${definition.type}'`);
      }
      return next();
    },
  );
}
