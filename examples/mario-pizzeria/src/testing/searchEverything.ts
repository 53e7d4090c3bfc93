// Test support (not a spec): where a string is still kept, in the database (every column of every table of the
// pizzeria's schema, whatever its type) and on NATS (every message of the run's streams: subject, headers, body).
// An erasure test searches both for each of a customer's original strings and expects nothing.
import type { Database } from '@myelin/postgres';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export interface ColumnHit {
  readonly table: string;
  readonly column: string;
  readonly rows: number;
}

/** Each column of each table of the database's schema holding `needle` in some row, with how many rows. */
export async function columnsContaining(database: Database, needle: string): Promise<ColumnHit[]> {
  const { rows: columns } = await database.query<{ table: string; column: string; type: string }>(
    `SELECT c.table_name AS table, c.column_name AS column, c.data_type AS type
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`,
    [database.schemaName],
  );
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const hits: ColumnHit[] = [];
  for (const table of new Set(columns.map((c) => c.table))) {
    const own = columns.filter((c) => c.table === table);
    // Every column as text: bytes as they are (escape), the rest as PostgreSQL prints it (JSON included).
    const counts = own.map(
      ({ column, type }, i) =>
        `count(*) FILTER (WHERE strpos(${type === 'bytea' ? `encode(${quote(column)}, 'escape')` : `${quote(column)}::text`}, $1) > 0)::int AS c${i}`,
    );
    const { rows } = await database.query<Record<string, number>>(
      `SELECT ${counts.join(', ')} FROM ${database.schema}.${quote(table)}`,
      [needle],
    );
    own.forEach(({ column }, i) => {
      const n = rows[0]?.[`c${i}`] ?? 0;
      if (n > 0) hits.push({ table, column, rows: n });
    });
  }
  return hits;
}

/** A message kept by JetStream, as text: its subject, its headers and its body. */
export interface KeptMessage {
  readonly stream: string;
  readonly seq: number;
  readonly text: string;
}

/** Every message kept in the streams whose names start with `prefix` (a run's events and dead letters). */
export async function streamMessages(servers: string, prefix: string): Promise<KeptMessage[]> {
  const nats = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nats);
    const messages: KeptMessage[] = [];
    for await (const info of jsm.streams.list()) {
      const stream = info.config.name;
      if (!stream.startsWith(prefix)) continue;
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null); // deleted: gone
        if (message === null) continue;
        const headers = [...(message.header ?? [])].map(([name, values]) => `${name}: ${values.join(', ')}`);
        const body = new TextDecoder().decode(message.data);
        messages.push({ stream, seq, text: [message.subject, ...headers, body].join('\n') });
      }
    }
    return messages;
  } finally {
    await nats.close();
  }
}
