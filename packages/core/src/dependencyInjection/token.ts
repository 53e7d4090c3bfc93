/** Compile-time only: the type of service a token stands for. */
declare const serviceType: unique symbol;

/**
 * A typed key for a service in the container. Tokens are compared by identity, so two tokens with the same
 * name are two different services; the name is for error messages.
 * @example export const Orders = token<Repository<Order>>('Orders');
 */
export interface Token<TService> {
  readonly name: string;
  readonly [serviceType]?: TService;
}

/** Creates a token for a service of type `TService`. */
export function token<TService>(name: string): Token<TService> {
  return Object.freeze({ name, toString: () => `Token(${name})` }) as Token<TService>;
}

/** A named set of tokens a factory or handler depends on. */
export type Dependencies = Readonly<Record<string, Token<any>>>;

/** The services a set of dependency tokens resolves to. */
export type Resolved<TDependencies extends Dependencies> = {
  readonly [K in keyof TDependencies]: TDependencies[K] extends Token<infer TService> ? TService : never;
};

/** The service type of a token. */
export type ServiceOf<TToken> = TToken extends Token<infer TService> ? TService : never;
