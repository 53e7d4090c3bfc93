/**
 * The dependency-injection container behind an application: what `app.container` is, and what an adapter's
 * repository factory returns (a `Provider`). Applications rarely need it: they register services on the builder
 * and declare handlers' dependencies with tokens, which the root entry exports.
 * @module @myelin/core/container
 */
export { Container, ContainerError, type Lifetime, type Provider, Scope } from './container.ts';
