/** A new random id (a UUID), from the platform's crypto: core imports no `node:` module. @internal */
export function newId(): string {
  return (globalThis as unknown as { crypto: { randomUUID(): string } }).crypto.randomUUID();
}
