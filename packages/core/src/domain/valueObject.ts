/**
 * A value defined only by its attributes: immutable, and equal to another of its class with the same attributes.
 * @example
 * class Money extends ValueObject<{ cents: number; currency: string }> {
 *   add(other: Money) { return new Money({ cents: this.props.cents + other.props.cents, currency: this.props.currency }); }
 * }
 */
export abstract class ValueObject<TProps extends object> {
  readonly props: Readonly<TProps>;

  constructor(props: TProps) {
    this.props = deepFreeze(structuredClone(props));
  }

  equals(other: ValueObject<TProps> | undefined): boolean {
    return (
      other !== undefined &&
      other.constructor === this.constructor &&
      structurallyEqual(this.props, other.props)
    );
  }

  toJSON(): Readonly<TProps> {
    return this.props;
  }
}

/** Deep equality of plain data (objects, arrays, primitives, dates). */
export function structurallyEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.hasOwn(b, key)) return false;
    if (!structurallyEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
      return false;
  }
  return true;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
