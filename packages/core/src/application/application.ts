import { type AuthorizationPolicy, authorization } from '../behaviors/authorization.ts';
import { type CachePolicy, caching, QueryCache } from '../behaviors/caching.ts';
import { validation } from '../behaviors/validation.ts';
import {
  Container,
  ContainerError,
  type Dependent,
  type Lifetime,
  type Provider,
  type Scope,
} from '../dependencyInjection/container.ts';
import { type Dependencies, type Resolved, type Token, token } from '../dependencyInjection/token.ts';
import type { Behavior } from '../mediation/behavior.ts';
import { ExecutionContext } from '../mediation/executionContext.ts';
import {
  type AnyHandler,
  type EventHandler,
  eventHandler,
  type RequestHandler,
} from '../mediation/handler.ts';
import { type Mediator, MediatorImpl } from '../mediation/mediator.ts';
import type { AnyMessageDefinition, MessageDefinition, RequestDefinition } from '../messages/message.ts';

/** The token of the application's mediator, for singletons that dispatch (schedulers, relays). */
export const MediatorToken = token<Mediator>('Mediator');

/** A built application: its mediator, its services, and what it knows of its messages. Dispose it to shut down. */
export interface Application extends AsyncDisposable {
  readonly mediator: Mediator;
  readonly container: Container;
  /** Every message definition the application knows, by type name. */
  readonly messages: ReadonlyMap<string, AnyMessageDefinition>;
  /** Every event handler registered, in registration order (a durable relay delivers to each on its own). */
  readonly eventHandlers: readonly EventHandler<any>[];
  /** The authorization policy of a message, if it has one (the HTTP layer documents it). */
  policyOf(definition: AnyMessageDefinition): AuthorizationPolicy | undefined;
  /** Disposes every singleton, newest first. */
  dispose(): Promise<void>;
}

/** Options for {@link createApplication}. */
export interface ApplicationOptions {
  /** Validate requests against their schemas before their handlers (default true). */
  readonly validation?: boolean;
  /** The clock the query cache uses; tests may pass their own. */
  readonly now?: () => number;
}

/** Raised by `build()` with every problem found, one per line. */
export class ApplicationBuildError extends Error {
  readonly code = 'application_invalid';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`The application cannot be built:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ApplicationBuildError';
    this.problems = problems;
  }
}

/** A reusable piece of configuration: a feature's handlers and services, an adapter's registrations. */
export type Module = (builder: ApplicationBuilder) => void;

interface ProviderOptions<TService> {
  readonly dispose?: (instance: TService) => void | Promise<void>;
}

/**
 * Collects handlers, services and behaviors, then `build()` checks them all at once: each command and query has
 * exactly one handler, every dependency is registered, no cycle and no scoped service held by a singleton.
 * Nothing is global: each builder makes an application of its own.
 * @example
 * const app = await createApplication()
 *   .include(inMemoryPersistence())
 *   .register(inMemoryEventSourcedRepository(Orders, Order, { events: orderEvents }))
 *   .handle(placeOrder, getOrder)
 *   .authorize(CancelOrder, { roles: ['manager'] })
 *   .build();
 */
export class ApplicationBuilder {
  readonly #providers: Provider<any, any>[] = [];
  readonly #replacements = new Map<Token<unknown>, Provider<any, any>>();
  readonly #handlers: AnyHandler[] = [];
  readonly #behaviors: Behavior[] = [];
  readonly #declared = new Set<AnyMessageDefinition>();
  readonly #policies = new Map<AnyMessageDefinition, AuthorizationPolicy<any>>();
  readonly #cachePolicies = new Map<AnyMessageDefinition, CachePolicy>();
  #built = false;

  readonly options: ApplicationOptions;

  constructor(options: ApplicationOptions = {}) {
    this.options = options;
  }

  /** Registers a service made by a provider (adapters export providers: repositories, stores). */
  register<TService>(provider: Provider<TService, any>): this {
    this.#providers.push(provider);
    return this;
  }

  /** Registers a provider in place of any earlier registration of its token (tests swap in fakes this way). */
  replace<TService>(provider: Provider<TService, any>): this {
    this.#replacements.set(provider.token, provider);
    return this;
  }

  /** One instance for the application. Its factory may be async; it runs during `build()`. */
  singleton<TService, const TDependencies extends Dependencies>(
    service: Token<TService>,
    dependencies: TDependencies,
    factory: (dependencies: Resolved<TDependencies>) => TService | Promise<TService>,
    options?: ProviderOptions<TService>,
  ): this;
  singleton<TService>(
    service: Token<TService>,
    factory: () => TService | Promise<TService>,
    options?: ProviderOptions<TService>,
  ): this;
  singleton(service: Token<unknown>, ...rest: unknown[]): this {
    return this.#provide('singleton', service, rest);
  }

  /** One instance per execution (per `execute`, per event handler delivery), disposed when it ends. */
  scoped<TService, const TDependencies extends Dependencies>(
    service: Token<TService>,
    dependencies: TDependencies,
    factory: (dependencies: Resolved<TDependencies>) => TService,
    options?: ProviderOptions<TService>,
  ): this;
  scoped<TService>(
    service: Token<TService>,
    factory: () => TService,
    options?: ProviderOptions<TService>,
  ): this;
  scoped(service: Token<unknown>, ...rest: unknown[]): this {
    return this.#provide('scoped', service, rest);
  }

  /** A new instance at each resolution, disposed with the scope that made it. */
  transient<TService, const TDependencies extends Dependencies>(
    service: Token<TService>,
    dependencies: TDependencies,
    factory: (dependencies: Resolved<TDependencies>) => TService,
    options?: ProviderOptions<TService>,
  ): this;
  transient<TService>(
    service: Token<TService>,
    factory: () => TService,
    options?: ProviderOptions<TService>,
  ): this;
  transient(service: Token<unknown>, ...rest: unknown[]): this {
    return this.#provide('transient', service, rest);
  }

  /** Registers command, query and event handlers. */
  handle(...handlers: AnyHandler[]): this {
    this.#handlers.push(...handlers);
    return this;
  }

  /** Adds pipeline behaviors. */
  use(...behaviors: (Behavior | readonly Behavior[])[]): this {
    for (const entry of behaviors)
      this.#behaviors.push(...(Array.isArray(entry) ? entry : [entry as Behavior]));
    return this;
  }

  /** Declares messages the application must be able to handle: `build()` fails if one has no handler. */
  expect(...definitions: AnyMessageDefinition[]): this {
    for (const definition of definitions) this.#declared.add(definition);
    return this;
  }

  /** Sets who may send a command or query (401 without a principal, 403 without the right). */
  authorize<TDefinition extends RequestDefinition>(
    definition: TDefinition,
    policy: AuthorizationPolicy<InstanceType<TDefinition>>,
  ): this {
    this.#policies.set(definition, policy);
    this.#declared.add(definition);
    return this;
  }

  /** Caches a query's successful results (see {@link CachePolicy}). */
  cache<TDefinition extends MessageDefinition<'query', string, any, any>>(
    definition: TDefinition,
    policy: CachePolicy<InstanceType<TDefinition>>,
  ): this {
    this.#cachePolicies.set(definition, policy);
    this.#declared.add(definition);
    return this;
  }

  /** Applies a module: a function that registers things on this builder. */
  include(...modules: Module[]): this {
    for (const module of modules) module(this);
    return this;
  }

  /** Validates everything, creates the singletons, and returns the running application. */
  async build(): Promise<Application> {
    if (this.#built)
      throw new Error('build() was already called on this builder; make a new one per application');
    this.#built = true;
    const problems: string[] = [];
    const behaviors = [...this.#behaviors];
    const handlers = [...this.#handlers];

    if (this.options.validation !== false) behaviors.push(validation());
    if (this.#policies.size > 0) behaviors.push(...authorization(this.#policies));
    if (this.#cachePolicies.size > 0) {
      const cache = new QueryCache(this.options.now);
      behaviors.push(caching(this.#cachePolicies, cache));
      const invalidations = new Map<AnyMessageDefinition, string[]>();
      for (const [query, policy] of this.#cachePolicies) {
        for (const event of policy.invalidatedBy ?? [])
          invalidations.set(event, [...(invalidations.get(event) ?? []), query.type]);
      }
      for (const [event, queries] of invalidations) {
        handlers.push(
          eventHandler(`myelin.cache.invalidate(${queries.join(',')})`, event as any, () => {
            for (const type of queries) cache.invalidate(type);
          }),
        );
      }
    }

    const requests = new Map<AnyMessageDefinition, RequestHandler<any>>();
    const events = new Map<AnyMessageDefinition, EventHandler<any>[]>();
    const messages = new Map<string, AnyMessageDefinition>();
    const known = (definition: AnyMessageDefinition) => {
      const existing = messages.get(definition.type);
      if (existing !== undefined && existing !== definition) {
        problems.push(`Two different messages are declared with the type name '${definition.type}'`);
      }
      messages.set(definition.type, definition);
    };
    for (const handler of handlers) {
      known(handler.message);
      if (handler.kind === 'request') {
        if (requests.has(handler.message)) {
          problems.push(
            `${handler.message.kind} '${handler.message.type}' has more than one handler; it must have exactly one`,
          );
        }
        requests.set(handler.message, handler);
      } else {
        const list = events.get(handler.message) ?? [];
        if (list.some((h) => h.name === handler.name)) {
          problems.push(`event '${handler.message.type}' has two handlers named '${handler.name}'`);
        }
        events.set(handler.message, [...list, handler]);
      }
    }
    for (const definition of this.#declared) {
      known(definition);
      if (definition.kind !== 'event' && !requests.has(definition)) {
        problems.push(`${definition.kind} '${definition.type}' has no handler; it must have exactly one`);
      }
    }
    for (const [definition] of this.#cachePolicies) {
      if (definition.kind !== 'query')
        problems.push(`Only queries can be cached, and '${definition.type}' is a ${definition.kind}`);
    }

    const providers = [
      ...this.#providers.filter((p) => !this.#replacements.has(p.token)),
      ...this.#replacements.values(),
      {
        token: ExecutionContext,
        lifetime: 'scoped',
        dependencies: {},
        factory: (_: unknown, scope: Scope) => scope.owner,
      },
    ] as Provider<any, any>[];
    let mediator: MediatorImpl | undefined;
    providers.push({
      token: MediatorToken,
      lifetime: 'singleton',
      dependencies: {},
      factory: () => mediator,
    });
    const dependents: Dependent[] = [
      ...handlers.map((h) => ({
        description: h.kind === 'request' ? `The handler of ${h.message.type}` : `Event handler '${h.name}'`,
        dependencies: h.dependencies,
      })),
      ...behaviors.map((b) => ({ description: `Behavior '${b.name}'`, dependencies: b.dependencies })),
    ];
    let container: Container | undefined;
    try {
      container = new Container(providers, dependents);
    } catch (error) {
      if (!(error instanceof ContainerError)) throw error;
      problems.push(...error.problems);
    }
    if (problems.length > 0 || container === undefined) throw new ApplicationBuildError(problems);

    const sorted = behaviors
      .map((b, index) => ({ b, index }))
      .sort((x, y) => x.b.order - y.b.order || x.index - y.index);
    const chain = (target: Behavior['target'], definition: AnyMessageDefinition) =>
      sorted.filter(({ b }) => b.target === target && b.appliesTo(definition)).map(({ b }) => b);
    mediator = new MediatorImpl(container, {
      requests,
      events,
      requestBehaviors: (definition) => chain('request', definition),
      eventBehaviors: (definition) => chain('event', definition),
    });
    try {
      await container.initialize();
    } catch (error) {
      // Release what was created before the failing factory (pools, connections) before reporting it.
      await container.dispose().catch(() => undefined);
      throw error;
    }
    const policies = new Map(this.#policies);
    const built = container;
    const app: Application = {
      mediator,
      container: built,
      messages,
      eventHandlers: [...events.values()].flat(),
      policyOf: (definition) => policies.get(definition),
      dispose: () => built.dispose(),
      [Symbol.asyncDispose]: () => built.dispose(),
    };
    return app;
  }

  #provide(lifetime: Lifetime, service: Token<unknown>, rest: unknown[]): this {
    const [dependencies, factory, options] =
      typeof rest[0] === 'function' ? [{}, rest[0], rest[1]] : [rest[0] as Dependencies, rest[1], rest[2]];
    if (typeof factory !== 'function')
      throw new TypeError(`The ${lifetime} registration of ${service.name} needs a factory`);
    const dispose = (options as ProviderOptions<unknown> | undefined)?.dispose;
    this.#providers.push({
      token: service,
      lifetime,
      dependencies,
      factory: factory as Provider<unknown>['factory'],
      ...(dispose === undefined ? {} : { dispose }),
    });
    return this;
  }
}

/** Starts configuring an application. */
export function createApplication(options?: ApplicationOptions): ApplicationBuilder {
  return new ApplicationBuilder(options);
}
