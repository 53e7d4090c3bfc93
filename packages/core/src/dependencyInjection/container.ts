import type { Dependencies, Resolved, Token } from './token.ts';

/**
 * How long an instance lives:
 * - `singleton`: one for the application, created when it is built, disposed when it is disposed;
 * - `scoped`: one per scope (each `execute` and each event handler delivery), disposed when the scope ends;
 * - `transient`: a new one at each resolution, disposed with the scope that made it.
 */
export type Lifetime = 'singleton' | 'scoped' | 'transient';

/** How to make a service: its lifetime, what it depends on, and its factory. */
export interface Provider<TService, TDependencies extends Dependencies = Dependencies> {
  readonly token: Token<TService>;
  readonly lifetime: Lifetime;
  readonly dependencies: TDependencies;
  /** Only singleton factories may be async: they run once, when the application is built. */
  readonly factory: (dependencies: Resolved<TDependencies>, scope: Scope) => TService | Promise<TService>;
  /** Overrides the default disposal (`Symbol.asyncDispose`, then `Symbol.dispose`, when the instance has one). */
  readonly dispose?: (instance: TService) => void | Promise<void>;
}

/** Something that holds resolvable dependencies but is not itself a service (a handler, a behavior). */
export interface Dependent {
  readonly description: string;
  readonly dependencies: Dependencies;
}

/** Raised by a registration problem: each problem is one line of `problems`. */
export class ContainerError extends Error {
  readonly code = 'container_invalid';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid service registrations:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ContainerError';
    this.problems = problems;
  }
}

interface CompiledProvider {
  readonly index: number;
  readonly provider: Provider<unknown>;
  readonly dependencyEntries: readonly (readonly [string, CompiledProvider])[];
}

/**
 * A validated set of providers. Validation happens once, in the constructor: a missing registration, a cycle, or
 * a scoped service captured by a singleton are all reported together, before any request is served.
 */
export class Container {
  readonly #compiled = new Map<Token<unknown>, CompiledProvider>();
  readonly #singletons: unknown[] = [];
  readonly #root: Scope;

  constructor(providers: readonly Provider<any, any>[], dependents: readonly Dependent[] = []) {
    const problems: string[] = [];
    const byToken = new Map<Token<unknown>, Provider<unknown>>();
    for (const provider of providers) {
      if (byToken.has(provider.token)) {
        problems.push(
          `${provider.token.name} is registered twice (use replace() to override a registration)`,
        );
      }
      byToken.set(provider.token, provider);
    }
    for (const provider of byToken.values()) {
      for (const [key, dependency] of Object.entries(provider.dependencies)) {
        if (!byToken.has(dependency)) {
          problems.push(
            `${provider.token.name} depends on ${dependency.name} (as '${key}'), which is not registered`,
          );
        }
      }
    }
    for (const dependent of dependents) {
      for (const [key, dependency] of Object.entries(dependent.dependencies)) {
        if (!byToken.has(dependency)) {
          problems.push(
            `${dependent.description} depends on ${dependency.name} (as '${key}'), which is not registered`,
          );
        }
      }
    }
    problems.push(...findCycles(byToken), ...findCaptives(byToken));
    if (problems.length > 0) throw new ContainerError(problems);

    let index = 0;
    for (const provider of byToken.values()) {
      this.#compiled.set(provider.token, { index: index++, provider, dependencyEntries: [] });
    }
    for (const compiled of this.#compiled.values()) {
      (compiled as { dependencyEntries: unknown }).dependencyEntries = Object.entries(
        compiled.provider.dependencies,
      ).map(([key, dependency]) => [key, this.#compiled.get(dependency) as CompiledProvider] as const);
    }
    this.#root = new Scope(this, undefined);
  }

  /** Creates every singleton, in dependency order, awaiting async factories. */
  async initialize(): Promise<void> {
    for (const compiled of this.#compiled.values()) {
      if (compiled.provider.lifetime === 'singleton') await this.#singleton(compiled);
    }
  }

  /** The scope singletons (and transients resolved by them) belong to. */
  get root(): Scope {
    return this.#root;
  }

  /**
   * True when resolving these dependencies can create a scoped or transient instance, i.e. needs a scope that is
   * disposed afterwards. Direct lifetimes suffice: a singleton never reaches a scoped service (build rejects it).
   */
  needsScope(dependencies: Dependencies): boolean {
    return Object.values(dependencies).some((token) => {
      const lifetime = this.#compiled.get(token)?.provider.lifetime;
      return lifetime !== undefined && lifetime !== 'singleton';
    });
  }

  /** True when `token` is registered. */
  has(token: Token<unknown>): boolean {
    return this.#compiled.has(token);
  }

  /** @internal */
  lookup(token: Token<unknown>): CompiledProvider {
    const compiled = this.#compiled.get(token);
    if (compiled === undefined) throw new ContainerError([`${token.name} is not registered`]);
    return compiled;
  }

  /** @internal Resolves a singleton; after initialize() it is always ready. */
  singleton(compiled: CompiledProvider): unknown {
    const instance = this.#singletons[compiled.index];
    if (instance !== undefined || compiled.index in this.#singletons) return instance;
    throw new ContainerError([
      `${compiled.provider.token.name} is a singleton that was resolved before the application was built`,
    ]);
  }

  async #singleton(compiled: CompiledProvider): Promise<unknown> {
    if (compiled.index in this.#singletons) return this.#singletons[compiled.index];
    const dependencies: Record<string, unknown> = {};
    for (const [key, dependency] of compiled.dependencyEntries) {
      dependencies[key] =
        dependency.provider.lifetime === 'singleton'
          ? await this.#singleton(dependency)
          : this.#root.resolveCompiled(dependency);
    }
    const instance = await compiled.provider.factory(dependencies as never, this.#root);
    this.#singletons[compiled.index] = instance;
    this.#root.track(compiled.provider, instance);
    return instance;
  }

  /** Disposes every singleton, in the reverse order of creation. */
  async dispose(): Promise<void> {
    await this.#root.dispose();
  }
}

/**
 * A lifetime boundary for scoped and transient services. The mediator opens one per execution; `dispose`
 * releases what it created, in reverse order, even when the work inside it threw.
 */
export class Scope {
  #instances: unknown[] | undefined;
  #disposables: (() => void | Promise<void>)[] | undefined;

  readonly container: Container;
  readonly parent: Scope | undefined;
  /** What the scope serves (the mediator's execution context), resolvable through a provider. */
  readonly owner: unknown;

  constructor(container: Container, parent: Scope | undefined, owner?: unknown) {
    this.container = container;
    this.parent = parent;
    this.owner = owner;
  }

  /** Returns the service registered for `token`, creating it as its lifetime says. */
  resolve<TService>(token: Token<TService>): TService {
    return this.resolveCompiled(this.container.lookup(token)) as TService;
  }

  /** Resolves a set of dependencies at once. */
  resolveAll<TDependencies extends Dependencies>(dependencies: TDependencies): Resolved<TDependencies> {
    const out: Record<string, unknown> = {};
    for (const key in dependencies) out[key] = this.resolve(dependencies[key] as Token<unknown>);
    return out as Resolved<TDependencies>;
  }

  /** @internal */
  resolveCompiled(compiled: CompiledProvider): unknown {
    const lifetime = compiled.provider.lifetime;
    if (lifetime === 'singleton') return this.container.singleton(compiled);
    if (lifetime === 'scoped') {
      if (this.parent === undefined && this.container.root === this) {
        throw new ContainerError([
          `${compiled.provider.token.name} is scoped and cannot be resolved outside a scope`,
        ]);
      }
      this.#instances ??= [];
      if (compiled.index in this.#instances) return this.#instances[compiled.index];
      const instance = this.#create(compiled);
      this.#instances[compiled.index] = instance;
      return instance;
    }
    return this.#create(compiled);
  }

  #create(compiled: CompiledProvider): unknown {
    const dependencies: Record<string, unknown> = {};
    for (const [key, dependency] of compiled.dependencyEntries)
      dependencies[key] = this.resolveCompiled(dependency);
    const instance = compiled.provider.factory(dependencies as never, this);
    if (instance instanceof Promise) {
      throw new ContainerError([
        `${compiled.provider.token.name} is ${compiled.provider.lifetime}: its factory must not be async`,
      ]);
    }
    this.track(compiled.provider, instance);
    return instance;
  }

  /** @internal Remembers how to dispose an instance this scope created. */
  track(provider: Provider<unknown>, instance: unknown): void {
    const disposer = disposerFor(provider, instance);
    if (disposer !== undefined) (this.#disposables ??= []).push(disposer);
  }

  /** True when disposing this scope has something to do. */
  get hasDisposables(): boolean {
    return this.#disposables !== undefined && this.#disposables.length > 0;
  }

  /** Disposes what this scope created, newest first. Every disposer runs; failures are reported together. */
  async dispose(): Promise<void> {
    const disposables = this.#disposables;
    this.#disposables = undefined;
    this.#instances = undefined;
    if (disposables === undefined) return;
    const errors: unknown[] = [];
    for (let i = disposables.length - 1; i >= 0; i--) {
      try {
        await (disposables[i] as () => void | Promise<void>)();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'Several services failed to dispose');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

function disposerFor(
  provider: Provider<unknown>,
  instance: unknown,
): (() => void | Promise<void>) | undefined {
  if (provider.dispose !== undefined) {
    const dispose = provider.dispose;
    return () => dispose(instance);
  }
  if (typeof instance !== 'object' || instance === null) return undefined;
  const asyncDispose = (instance as Partial<AsyncDisposable>)[Symbol.asyncDispose];
  if (typeof asyncDispose === 'function') return async () => await asyncDispose.call(instance);
  const dispose = (instance as Partial<Disposable>)[Symbol.dispose];
  if (typeof dispose === 'function') return () => dispose.call(instance);
  return undefined;
}

function findCycles(providers: ReadonlyMap<Token<unknown>, Provider<unknown>>): string[] {
  const problems: string[] = [];
  const state = new Map<Token<unknown>, 'visiting' | 'done'>();
  const path: Token<unknown>[] = [];
  const visit = (token: Token<unknown>): void => {
    const seen = state.get(token);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...path.slice(path.indexOf(token)), token].map((t) => t.name).join(' -> ');
      problems.push(`Dependency cycle: ${cycle}`);
      return;
    }
    const provider = providers.get(token);
    if (provider === undefined) return;
    state.set(token, 'visiting');
    path.push(token);
    for (const dependency of Object.values(provider.dependencies)) visit(dependency);
    path.pop();
    state.set(token, 'done');
  };
  for (const token of providers.keys()) visit(token);
  return problems;
}

/** A singleton that reaches a scoped service (directly or through transients) would keep one scope's instance forever. */
function findCaptives(providers: ReadonlyMap<Token<unknown>, Provider<unknown>>): string[] {
  const problems: string[] = [];
  for (const provider of providers.values()) {
    if (provider.lifetime !== 'singleton') continue;
    const stack: { token: Token<unknown>; via: string[] }[] = Object.values(provider.dependencies).map(
      (token) => ({
        token,
        via: [],
      }),
    );
    const seen = new Set<Token<unknown>>();
    while (stack.length > 0) {
      const { token, via } = stack.pop() as { token: Token<unknown>; via: string[] };
      if (seen.has(token)) continue;
      seen.add(token);
      const dependency = providers.get(token);
      if (dependency === undefined) continue;
      if (dependency.lifetime === 'scoped') {
        const chain = [provider.token.name, ...via, token.name].join(' -> ');
        problems.push(`Singleton ${provider.token.name} captures scoped ${token.name} (${chain})`);
      } else if (dependency.lifetime === 'transient') {
        for (const next of Object.values(dependency.dependencies))
          stack.push({ token: next, via: [...via, token.name] });
      }
    }
  }
  return problems;
}
