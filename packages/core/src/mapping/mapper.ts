/** Compile-time only: the type a mapping target stands for. */
declare const targetType: unique symbol;

/** A destination of mappings that has no class of its own, such as a DTO interface. */
export interface MapTarget<TDestination> {
  readonly name: string;
  readonly [targetType]?: TDestination;
}

/** Names a destination type for the mapper. @example export const OrderDto = mapTarget<OrderDto>('OrderDto'); */
export function mapTarget<TDestination>(name: string): MapTarget<TDestination> {
  return Object.freeze({ name }) as MapTarget<TDestination>;
}

type Constructor<TInstance> = abstract new (...args: any[]) => TInstance;
type Destination<TDestination> = MapTarget<TDestination> | Constructor<TDestination>;

/** The registered (source, destination) pairs, as a union of tuples. */
type Pair = readonly [unknown, unknown];
type SourcesFor<TPairs extends Pair, TDestination> = TPairs extends readonly [infer TSource, infer TTarget]
  ? [TTarget] extends [TDestination]
    ? TSource
    : never
  : never;

/**
 * Maps instances of registered source classes to destinations. The compiler rejects a pair nobody registered;
 * at run time such a call is a clear error too.
 * @example
 * const mapper = createMapper().add(Order, OrderDto, (order) => ({ id: order.id, total: order.total }));
 * const dto = mapper.map(order, OrderDto); // OrderDto
 */
export interface Mapper<TPairs extends Pair = never> {
  map<TDestination, TSource extends SourcesFor<TPairs, TDestination> & object>(
    source: TSource,
    destination: Destination<TDestination>,
  ): TDestination;
  /** Registers how to map `source` instances to `destination`; returns a mapper that knows the new pair. */
  add<TSource extends object, TDestination>(
    source: Constructor<TSource>,
    destination: Destination<TDestination>,
    map: (source: TSource, mapper: Mapper<TPairs | readonly [TSource, TDestination]>) => TDestination,
  ): Mapper<TPairs | readonly [TSource, TDestination]>;
}

/** Raised when mapping a (source, destination) pair that was never registered. */
export class MappingError extends Error {
  readonly code = 'mapping_unregistered';
  constructor(source: string, destination: string) {
    super(
      `No mapping from ${source} to ${destination} is registered; add one with mapper.add(${source}, ${destination}, ...)`,
    );
    this.name = 'MappingError';
  }
}

/** Creates an empty mapper. Mappers are values: keep one per application, no global registry. */
export function createMapper(): Mapper {
  const maps = new Map<unknown, Map<unknown, (source: any, mapper: any) => unknown>>();
  const mapper = {
    add(source: Constructor<object>, destination: unknown, map: (source: any, mapper: any) => unknown) {
      let byDestination = maps.get(source);
      if (byDestination === undefined) maps.set(source, (byDestination = new Map()));
      if (byDestination.has(destination)) {
        throw new Error(
          `A mapping from ${source.name} to ${(destination as { name: string }).name} is already registered`,
        );
      }
      byDestination.set(destination, map);
      return mapper;
    },
    map(source: object, destination: { name: string }) {
      // Walk the prototype chain so a subclass uses its base's mapping unless it has its own.
      for (let proto = Object.getPrototypeOf(source); proto !== null; proto = Object.getPrototypeOf(proto)) {
        const map = maps.get(proto.constructor)?.get(destination);
        if (map !== undefined) return map(source, mapper);
      }
      throw new MappingError(source?.constructor?.name ?? typeof source, destination.name);
    },
  };
  return mapper as unknown as Mapper;
}
