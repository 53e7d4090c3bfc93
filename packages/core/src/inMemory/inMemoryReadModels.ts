// The read side of the in-memory database: each projection version's status and checkpoint, and its read model's
// rows. Writes go through a staged copy that lands whole (with its commit or batch) or not at all.
import { comparePositions, type LogPosition, startOfLog } from '../log/logPosition.ts';
import type { StoredEvent } from '../persistence/eventStore.ts';
import type { FindQuery, Page } from '../persistence/repository.ts';
import type { ErasureModel, Projection } from '../projections/projection.ts';
import type {
  DocumentReader,
  DocumentWriter,
  ReadModel,
  TableReader,
  TableWriter,
} from '../projections/readModel.ts';
import { compare, matches } from './inMemoryRepositories.ts';

/** One version of a projection, as the database records it. */
export interface ProjectionVersion {
  readonly projection: Projection;
  status: 'building' | 'active' | 'retired';
  /** Where its runner has applied the log to (inline versions that are active are applied by the commits). */
  checkpoint: LogPosition;
}

type Rows = Map<string, unknown>;
const deleted = Symbol('deleted');

/** Writes to read models that land together, when {@link Staged.apply} runs, or never. */
export interface Staged {
  writer(version: ProjectionVersion): DocumentWriter<unknown> | TableWriter<Record<string, unknown>>;
  /** What an erasure hook writes a version with: its writer, and `find` over its rows as staged so far. */
  erasing(version: ProjectionVersion): ErasureModel<ReadModel>;
  apply(): void;
}

export class InMemoryReadModels {
  readonly #versions = new Map<string, Map<number, ProjectionVersion>>();
  readonly #rows = new Map<string, Rows>();

  /**
   * Records a version of a projection: retired if a newer one exists; serving at once if it is inline, the first
   * of its name, and no event it handles is in the log; otherwise building, until a runner has caught it up.
   * A version recorded before keeps its state (another application on this database declared it first).
   */
  register(p: Projection, log: readonly StoredEvent[]): void {
    let versions = this.#versions.get(p.name);
    if (versions === undefined) this.#versions.set(p.name, (versions = new Map()));
    const known = versions.get(p.version);
    if (known !== undefined) {
      // Switching modes in place would drop (async → inline) or repeat (inline → async) the events in between.
      if (known.projection.mode !== p.mode) {
        throw new Error(
          `Projection '${p.name}' version ${p.version} was registered as ${known.projection.mode}; raise its version to make it ${p.mode}`,
        );
      }
      return;
    }
    const newer = [...versions.keys()].some((version) => version > p.version);
    const fresh = versions.size === 0 && !log.some((event) => p.handlers.has(event.metadata.type));
    versions.set(p.version, {
      projection: p,
      status: newer ? 'retired' : p.mode === 'inline' && fresh ? 'active' : 'building',
      checkpoint: startOfLog,
    });
  }

  /** Every version not retired. */
  get running(): readonly ProjectionVersion[] {
    return [...this.#versions.values()].flatMap((versions) =>
      [...versions.values()].filter((version) => version.status !== 'retired'),
    );
  }

  /** The version queries read: the active one, else the newest building. */
  serving(name: string): ProjectionVersion | undefined {
    const versions = [...(this.#versions.get(name)?.values() ?? [])].filter((v) => v.status !== 'retired');
    return (
      versions.find((version) => version.status === 'active') ??
      versions.sort((a, b) => b.projection.version - a.projection.version)[0]
    );
  }

  /** Whether the version serving `name` has applied the log up to `position`. */
  caughtUp(name: string, position: LogPosition): boolean {
    const version = this.serving(name);
    if (version === undefined) return true;
    if (version.projection.mode === 'inline' && version.status === 'active') return true;
    return comparePositions(version.checkpoint, position) >= 0;
  }

  /** Applies the events of a commit to every active inline projection that handles them. */
  async applyInline(events: readonly StoredEvent[], staged: Staged): Promise<void> {
    for (const version of this.running) {
      if (version.projection.mode === 'inline' && version.status === 'active') {
        await this.apply(version, events, staged);
      }
    }
  }

  /** Applies events to a version's read model, through `staged`. */
  async apply(version: ProjectionVersion, events: readonly StoredEvent[], staged: Staged): Promise<void> {
    const writer = staged.writer(version);
    for (const stored of events) {
      const handler = version.projection.handlers.get(stored.metadata.type);
      if (handler === undefined) continue;
      await handler.handle(new handler.definition(structuredClone(stored.data)), writer as never, stored);
    }
  }

  /** Makes a version the one serving; the others retire and their rows go. */
  activate(version: ProjectionVersion): void {
    for (const other of this.#versions.get(version.projection.name)?.values() ?? []) {
      if (other === version || other.status === 'retired') continue;
      other.status = 'retired';
      this.#rows.delete(rowsKey(other));
    }
    version.status = 'active';
  }

  stage(): Staged {
    const changes = new Map<string, Map<string, unknown>>();
    const read = (key: string, id: string): unknown => {
      const change = changes.get(key)?.get(id);
      if (change === deleted) return undefined;
      return change !== undefined ? change : this.#rows.get(key)?.get(id);
    };
    const write = (key: string, id: string, value: unknown) => {
      let rows = changes.get(key);
      if (rows === undefined) changes.set(key, (rows = new Map()));
      rows.set(id, value === undefined ? deleted : structuredClone(value));
    };
    const staged: Staged = {
      writer: (version) => {
        const key = rowsKey(version);
        const model = version.projection.model;
        if (model.kind === 'documents') {
          const writer: DocumentWriter<unknown> = {
            get: async (id) => copy(read(key, id)),
            put: async (id, document) => write(key, id, document),
            update: async (id, change) => {
              const current = copy(read(key, id));
              if (current === undefined) return false;
              write(key, id, change(current));
              return true;
            },
            delete: async (id) => write(key, id, undefined),
          };
          return writer;
        }
        const idOf = rowId(model.key);
        const writer: TableWriter<Record<string, unknown>> = {
          get: async (row) => copy(read(key, idOf(row))) as Record<string, unknown> | undefined,
          upsert: async (row) => {
            const current = read(key, idOf(row)) as Record<string, unknown> | undefined;
            const given = Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined));
            write(key, idOf(row), { ...current, ...given });
          },
          update: async (row, change) => {
            const current = copy(read(key, idOf(row))) as Record<string, unknown> | undefined;
            if (current === undefined) return false;
            write(key, idOf(row), change(current));
            return true;
          },
          delete: async (row) => write(key, idOf(row), undefined),
        };
        return writer;
      },
      erasing: (version) => {
        const key = rowsKey(version);
        const rows = (): Rows => {
          const merged = new Map(this.#rows.get(key));
          for (const [id, value] of changes.get(key) ?? []) {
            if (value === deleted) merged.delete(id);
            else merged.set(id, value);
          }
          return merged;
        };
        return {
          ...staged.writer(version),
          find: (query) => findRows(rows(), query),
        } as ErasureModel<ReadModel>;
      },
      apply: () => {
        for (const [key, rows] of changes) {
          let target = this.#rows.get(key);
          if (target === undefined) this.#rows.set(key, (target = new Map()));
          for (const [id, value] of rows) {
            if (value === deleted) target.delete(id);
            else target.set(id, value);
          }
        }
      },
    };
    return staged;
  }

  /** How queries read a read model: the rows of the version serving it, once `ready` resolves. */
  reader(
    name: string,
    model: ReadModel,
    ready: () => Promise<void>,
  ): DocumentReader<unknown> | TableReader<Record<string, unknown>> {
    const rows = (): Rows => {
      const version = this.serving(name);
      return (version === undefined ? undefined : this.#rows.get(rowsKey(version))) ?? new Map();
    };
    const find = async (query: FindQuery<any> = {}): Promise<Page<any>> => {
      await ready();
      return findRows(rows(), query);
    };
    if (model.kind === 'documents') {
      return {
        get: async (id: string) => {
          await ready();
          return copy(rows().get(id));
        },
        find,
      };
    }
    const idOf = rowId(model.key);
    return {
      get: async (key: Record<string, unknown>) => {
        await ready();
        return copy(rows().get(idOf(key))) as Record<string, unknown> | undefined;
      },
      find,
    };
  }
}

/** A page of the rows matching a query, in its order (ties by key, so that pages are stable, as PostgreSQL's). */
async function findRows(rows: Rows, query: FindQuery<any> = {}): Promise<Page<any>> {
  const page = query.page ?? 1;
  const pageSize = query.pageSize ?? 50;
  if (!Number.isInteger(page) || page < 1)
    throw new RangeError(`page must be a positive integer, not ${page}`);
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new RangeError(`pageSize must be a positive integer, not ${pageSize}`);
  const matching = [...rows]
    .filter(([, row]) => matches(row as Record<string, unknown>, query.where ?? {}))
    .sort(
      ([idA, a], [idB, b]) =>
        compare(a as Record<string, unknown>, b as Record<string, unknown>, query.sort ?? []) ||
        (idA < idB ? -1 : idA > idB ? 1 : 0),
    );
  const items = matching.slice((page - 1) * pageSize, page * pageSize).map(([, row]) => copy(row));
  return { items, total: matching.length, page, pageSize };
}

function rowsKey(version: ProjectionVersion): string {
  return `${version.projection.name}@${version.projection.version}`;
}

function rowId(key: readonly string[]): (row: Record<string, unknown>) => string {
  return (row) => JSON.stringify(key.map((column) => row[column]));
}

function copy<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}
