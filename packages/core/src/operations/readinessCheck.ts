/**
 * One thing a process needs before it takes traffic (its database answers, its schema is current): what a `/ready`
 * endpoint runs. Adapters provide them (`postgresReadiness` of `@myelin/postgres`); the HTTP layer serves them.
 */
export interface ReadinessCheck {
  readonly name: string;
  /** Whether it passes now, and anything that explains the answer. */
  check(): Promise<{ readonly ok: boolean; readonly detail?: unknown }>;
}
