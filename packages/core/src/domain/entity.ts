/** Something with an identity that outlives changes to its attributes: two entities are equal when ids are. */
export abstract class Entity<TId extends string | number = string> {
  readonly id: TId;

  constructor(id: TId) {
    this.id = id;
  }

  equals(other: Entity<TId> | undefined): boolean {
    return other !== undefined && other.constructor === this.constructor && other.id === this.id;
  }
}
