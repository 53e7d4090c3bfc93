// Appending events to a stream with an expected-version check, on PostgreSQL: Myelin's event store against a
// hand-written twin (one statement per append) and Emmett's PostgreSQL event store, in one process and one run.
// Then one whole command through Myelin against the same work by hand, and Myelin's appends of personal data with
// protection on against the same appends with it off. See ../README.md for what each case does.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import pg from 'pg';
import type { CustomerStatements, Side } from './append/protected.ts';
import { type RawTwin, rawCommands, setUpRaw } from './append/raw.ts';
import {
  type Appender,
  appendOperation,
  checkAppender,
  connectionString,
  countStatements,
  createWriters,
  type Operation,
  poolSize,
  runFor,
  type Writer,
} from './append/workload.ts';
import { inRotatedRounds, median, pairedRatio } from './harness.ts';

const implementations = ['raw', 'myelin', 'emmett'] as const;
type Implementation = (typeof implementations)[number];

// Myelin and Emmett are loaded only when they run, so that the others can be measured while one is unavailable
// (`APPEND_ONLY=raw,emmett`), and so that Emmett's driver is not in the process before it is used.
const setUp: Record<Exclude<Implementation, 'raw'>, () => Promise<Appender>> = {
  myelin: async () => (await import('./append/myelin.ts')).setUpMyelin(),
  emmett: async () => (await import('./append/emmett.ts')).setUpEmmett(),
};

interface AppendCase {
  readonly name: string;
  readonly writers: number;
  readonly eventsPerAppend: number;
}

const allCases: readonly AppendCase[] = [
  { name: 'w1e1', writers: 1, eventsPerAppend: 1 },
  { name: 'w16e1', writers: 16, eventsPerAppend: 1 },
  { name: 'w1e10', writers: 1, eventsPerAppend: 10 },
  { name: 'w16e10', writers: 16, eventsPerAppend: 10 },
];
// Ten-event appends of events carrying personal data, protection on against off (Myelin only; see protected.ts).
const allProtectedCases: readonly AppendCase[] = [
  { name: 'protected-w1e10', writers: 1, eventsPerAppend: 10 },
  { name: 'protected-w16e10', writers: 16, eventsPerAppend: 10 },
];
// `APPEND_CASES=w16e1,w16e10` runs only those cases (and then writes no results); `protected` both protected ones.
const onlyCases = process.env.APPEND_CASES?.split(',').map((name) => name.trim());
const cases = allCases.filter((c) => onlyCases === undefined || onlyCases.includes(c.name));
const protectedCases = allProtectedCases.filter(
  (c) => onlyCases === undefined || onlyCases.includes(c.name) || onlyCases.includes('protected'),
);

interface Target {
  readonly numerator: string;
  readonly denominator: string;
  /** The least acceptable throughput ratio; none for a ratio that is only reported. */
  readonly value?: number;
}

const targets: readonly Target[] = [
  { numerator: 'myelin', denominator: 'raw', value: 0.9 },
  { numerator: 'myelin', denominator: 'emmett', value: 1.5 },
];

/** Issue 19: sealing four personal fields per event costs at most a fifth of the appends' throughput. */
const protectedTarget: Target = { numerator: 'on', denominator: 'off', value: 0.8 };
/**
 * Beside it, reported only: the same ratio for the hand-written twin (the floor: what the cipher and the larger row
 * cost by themselves), and each Myelin side against its twin.
 */
const protectedFloor: readonly Target[] = [
  { numerator: 'rawOn', denominator: 'rawOff' },
  { numerator: 'on', denominator: 'rawOn' },
  { numerator: 'off', denominator: 'rawOff' },
];

// The command path has no target yet: what Myelin's layers cost on top of the same statements is the question.
const commandPathTargets: readonly Target[] = [{ numerator: 'myelin', denominator: 'raw' }];

/** Concurrent callers of the command-path measurement. */
const commandCallers = 16;

// `BENCH_QUICK=1` for a smoke run of a few seconds; its figures are not worth keeping, so it writes no results.
const quick = process.env.BENCH_QUICK === '1';
// Five rounds of 2 s rather than three of 3 s: on a 2-core machine shared with PostgreSQL, a round's ratio moves
// by a tenth from one round to the next, and the median of five is steadier than the median of three.
const options = quick
  ? { warmupMs: 300, measureMs: 1000, rounds: 1 }
  : { warmupMs: 1000, measureMs: 2000, rounds: 5 };

/** Something timed in rounds: its workers, what each does per operation, and all the units it completed. */
interface Subject {
  readonly name: string;
  readonly workers: readonly Writer[];
  readonly operation: Operation;
  units: number;
}

/** A subject's rate in every round. */
type Rates = ReadonlyMap<string, readonly number[]>;

/**
 * Warms every subject up, then runs `options.rounds` rounds of every subject, the order rotated each round, so that
 * a slow spell of the machine (or a checkpoint of the server) falls on all of them alike.
 */
async function measureInRounds(subjects: readonly Subject[]): Promise<Rates> {
  for (const subject of subjects) {
    subject.units += (await runFor(subject.workers, subject.operation, options.warmupMs)).units;
  }
  const rates = new Map(subjects.map((subject): [string, number[]] => [subject.name, []]));
  await inRotatedRounds(subjects, options.rounds, async (subject) => {
    const run = await runFor(subject.workers, subject.operation, options.measureMs);
    subject.units += run.units;
    rates.get(subject.name)?.push(run.rate);
  });
  return rates;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/** Statements (each one round trip) of one operation that starts a stream, then of one that continues it. */
interface Statements {
  readonly newStream: number;
  readonly existingStream: number;
}

async function statementsOf(name: string, operation: Operation): Promise<Statements> {
  const [writer] = createWriters(`probe-${name}-${Date.now()}`, 1) as [Writer];
  const newStream = await countStatements(async () => void (await operation(writer)));
  const existingStream = await countStatements(async () => void (await operation(writer)));
  return { newStream, existingStream };
}

/** Prints the rates of one measurement, and its ratios against their targets; answers the ratios and the misses. */
function report(
  unit: string,
  subjects: readonly Subject[],
  rates: Rates,
  wanted: readonly Target[],
  column = 'implementation',
): { ratios: Record<string, number>; missed: number } {
  console.log();
  console.log(`| ${column} | ${unit} (median) | min | max | total |`);
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const { name, units } of subjects) {
    const r = rates.get(name) ?? [];
    console.log(
      `| ${name} | ${Math.round(median(r))} | ${Math.round(Math.min(...r))} | ${Math.round(Math.max(...r))} | ${units} |`,
    );
  }
  const ratios: Record<string, number> = {};
  let missed = 0;
  const applicable = wanted.filter((t) => rates.has(t.numerator) && rates.has(t.denominator));
  if (applicable.length === 0) return { ratios, missed };
  console.log();
  console.log('| ratio | value | ratio of medians | target | status |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  for (const t of applicable) {
    const numerator = rates.get(t.numerator) ?? [];
    const denominator = rates.get(t.denominator) ?? [];
    const ratio = pairedRatio(numerator, denominator);
    const met = t.value === undefined || ratio >= t.value;
    if (!met) missed++;
    const name = `${t.numerator}/${t.denominator}`;
    ratios[name] = round2(ratio);
    console.log(
      `| ${name} | ${ratio.toFixed(2)} | ${(median(numerator) / median(denominator)).toFixed(2)} | ${t.value === undefined ? '–' : `>= ${t.value}`} | ${t.value === undefined ? '–' : met ? 'met' : 'not met'} |`,
    );
  }
  return { ratios, missed };
}

/** The server's version, for the record. */
async function serverVersion(): Promise<string> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

export async function main(): Promise<void> {
  const only = process.env.APPEND_ONLY?.split(',').map((name) => name.trim());
  const running = implementations.filter((name) => only === undefined || only.includes(name));
  const appenders = new Map<Implementation, Appender>();
  let raw: RawTwin | undefined;
  try {
    for (const name of running) {
      const appender = name === 'raw' ? (raw = await setUpRaw()) : await setUp[name]();
      appenders.set(name, appender);
      // Every implementation must store what it is given and refuse a wrong expected version before it is timed.
      await checkAppender(name, appender);
    }
    // By name, as subjects name themselves (a string).
    const appenderOf = (name: string) => appenders.get(name as Implementation) as Appender;

    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;
    const postgres = await serverVersion();
    console.log(`append: Node ${process.version}, ${machine}, PostgreSQL ${postgres}`);
    console.log(
      `per case: ${options.warmupMs} ms warm-up per implementation, then ${options.rounds} interleaved rounds of ${options.measureMs} ms each; pools of ${poolSize} connections`,
    );

    const statements: Record<string, Statements> = {};
    for (const name of running)
      statements[name] = await statementsOf(name, appendOperation(appenderOf(name), 1));
    console.log();
    console.log('| implementation | statements per append to a new stream | to an existing stream |');
    console.log('| --- | ---: | ---: |');
    for (const name of running) {
      console.log(`| ${name} | ${statements[name]?.newStream} | ${statements[name]?.existingStream} |`);
    }

    const results: Record<string, Record<string, number>> = {};
    const ratios: Record<string, Record<string, number>> = {};
    let missed = 0;
    for (const c of cases) {
      // Every case starts from empty tables, so that no implementation appends to a bigger log than another.
      for (const name of running) await appenderOf(name).reset();
      const subjects = running.map(
        (name): Subject => ({
          name,
          workers: createWriters(`order-${c.name}-${name}`, c.writers),
          operation: appendOperation(appenderOf(name), c.eventsPerAppend),
          units: 0,
        }),
      );
      const rates = await measureInRounds(subjects);
      for (const { name, units } of subjects) {
        const stored = await appenderOf(name).count();
        if (stored !== units)
          throw new Error(`${name}, ${c.name}: ${units} events appended but ${stored} stored`);
      }
      console.log();
      console.log(`${c.name}: ${c.writers} writer(s), ${c.eventsPerAppend} event(s) per append`);
      const measured = report('events/s', subjects, rates, targets);
      results[c.name] = Object.fromEntries(
        subjects.map(({ name }) => [name, Math.round(median(rates.get(name) ?? []))]),
      );
      ratios[c.name] = measured.ratios;
      missed += measured.missed;
    }
    // Leave the tables empty, and close all but the twin, which the command path uses.
    for (const [name, appender] of appenders) {
      await appender.reset();
      if (name !== 'raw') await appender.close();
    }
    appenders.clear();

    const commandPath =
      raw !== undefined && running.includes('myelin') ? await measureCommandPath(raw) : undefined;
    if (raw !== undefined) await raw.close();
    raw = undefined;

    const personal =
      running.includes('myelin') && protectedCases.length > 0
        ? await measureProtected(protectedCases)
        : undefined;
    missed += personal?.missed ?? 0;

    console.log();
    console.log('| case | raw | myelin | emmett | myelin/raw | myelin/emmett |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const c of cases) {
      const r = results[c.name] ?? {};
      const q = ratios[c.name] ?? {};
      console.log(
        `| ${c.name} | ${r.raw ?? '–'} | ${r.myelin ?? '–'} | ${r.emmett ?? '–'} | ${q['myelin/raw'] ?? '–'} | ${q['myelin/emmett'] ?? '–'} |`,
      );
    }
    if (commandPath !== undefined) {
      console.log(
        `| commandPath (commands/s) | ${commandPath.raw} | ${commandPath.myelin} | – | ${commandPath['myelin/raw']} | – |`,
      );
    }
    if (personal !== undefined) {
      console.log();
      console.log(
        '| protected | off | on | on/off | target | status | raw twin off | raw twin on | raw twin on/off |',
      );
      console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
      for (const [name, c] of Object.entries(personal.result.cases)) {
        console.log(
          `| ${name} | ${c.off} | ${c.on} | ${c['on/off']} | >= ${protectedTarget.value} | ${c['on/off'] >= (protectedTarget.value ?? 0) ? 'met' : 'not met'} | ${c.raw.off} | ${c.raw.on} | ${c.raw['on/off']} |`,
        );
      }
    }

    if (
      quick ||
      running.length < implementations.length ||
      cases.length < allCases.length ||
      protectedCases.length < allProtectedCases.length
    ) {
      console.log(
        `\n${quick ? 'BENCH_QUICK' : `only ${running.join(', ')} on ${[...cases, ...protectedCases].map((c) => c.name).join(', ')} ran`}: results/append.json not written`,
      );
    } else {
      const file = new URL('../results/append.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const json = {
        unit: 'events/s',
        results: { ...results, ...(personal === undefined ? {} : { protected: personal.result }) },
        ratios,
        statementsPerAppend: statements,
        ...(commandPath === undefined ? {} : { commandPath }),
        machine,
        node: process.version,
        postgres,
      };
      await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
      console.log(`\nwrote ${file.pathname}`);
    }
    if (missed > 0) console.log(`${missed} target(s) not met`);
  } finally {
    for (const appender of appenders.values()) await appender.close();
    if (raw !== undefined && !appenders.has('raw')) await raw.close();
  }
}

/** One protected case's figures: events/s with protection on and off, and the paired ratio. */
interface ProtectedCaseResult {
  readonly writers: number;
  readonly on: number;
  readonly off: number;
  readonly 'on/off': number;
  /** The same appends by the hand-written twin, sealing by hand or not. */
  readonly raw: { readonly on: number; readonly off: number; readonly 'on/off': number };
}

/** What results/append.json says of the protected appends: the 16-writer case's figures, then every case's. */
interface ProtectedResult extends ProtectedCaseResult {
  readonly case: string;
  readonly target: number;
  readonly customers: number;
  readonly cases: Record<string, ProtectedCaseResult>;
  readonly statementsPerAppend: Record<string, CustomerStatements>;
  /** What one event's data takes in the log (`pg_column_size`), with its four personal fields sealed or not. */
  readonly storedBytesPerEvent: Record<string, number>;
  /** Registrations of the customer pool, one single-event append each (on: each makes the customer's key). */
  readonly firstAppends: {
    readonly unit: 'appends/s';
    readonly writers: number;
    readonly on: number;
    readonly off: number;
  };
}

/**
 * Ten-event appends of events with four personal fields, by Myelin's event store with protection on (the type
 * declared personal, a master key given) against the same appends with it off, in rotated rounds as the cases are.
 */
async function measureProtected(
  toRun: readonly AppendCase[],
): Promise<{ result: ProtectedResult; missed: number }> {
  const p = await import('./append/protected.ts');
  const stores = await p.setUpProtected();
  let twins: Record<Side, Appender> | undefined;
  try {
    twins = await (await import('./append/protectedRaw.ts')).setUpRawProtected();
    await p.checkProtection(stores);
    const statements: Record<string, CustomerStatements> = {};
    for (const side of p.sides) {
      await checkAppender(`protected ${side}`, stores[side]);
      statements[side] = await p.statementsOfSide(side, stores[side]);
    }
    // Every customer of the pool registers first, as a service's returning customers have: on the "on" side
    // their keys are made (and cached) then, so that the timed appends find them.
    const firstAppends = { on: 0, off: 0 };
    for (const side of p.sides) {
      firstAppends[side] = Math.round(await p.registerCustomers(side, stores[side], poolSize));
      await p.registerCustomers(side, twins[side], poolSize); // the twin's keys, made on first sight, too
    }
    console.log();
    console.log(
      `protected: ${p.customerPoolSize} customers, four personal fields per event; on: sealed (type declared personal, master key given), off: in clear`,
    );
    console.log();
    console.log(
      `| side | statements per append, a customer's first | a known customer's | registrations/s (${poolSize} writers, one run) |`,
    );
    console.log('| --- | ---: | ---: | ---: |');
    for (const side of p.sides) {
      console.log(
        `| ${side} | ${statements[side]?.firstOfCustomer} | ${statements[side]?.knownCustomer} | ${firstAppends[side]} |`,
      );
    }

    const perCase: Record<string, ProtectedCaseResult> = {};
    const storedBytesPerEvent: Record<string, number> = {};
    let missed = 0;
    // Myelin's sides as "on" and "off", the twin's as "rawOn" and "rawOff".
    const appenders = new Map<string, { side: Side; appender: Appender }>();
    for (const side of p.sides) {
      appenders.set(side, { side, appender: stores[side] });
      appenders.set(side === 'on' ? 'rawOn' : 'rawOff', { side, appender: twins[side] });
    }
    for (const c of toRun) {
      for (const { appender } of appenders.values()) await appender.reset();
      const subjects = [...appenders].map(
        ([name, { side, appender }]): Subject => ({
          name,
          workers: createWriters(`${c.name}-${name}`, c.writers),
          operation: p.protectedOperation(side, appender, c.eventsPerAppend),
          units: 0,
        }),
      );
      const rates = await measureInRounds(subjects);
      for (const { name, units } of subjects) {
        const stored = await appenders.get(name)?.appender.count();
        if (stored !== units)
          throw new Error(`${c.name} ${name}: ${units} events appended but ${stored} stored`);
      }
      for (const side of p.sides) storedBytesPerEvent[side] = await p.storedBytesPerEvent(stores[side]);
      console.log();
      console.log(
        `${c.name}: ${c.writers} writer(s), ${c.eventsPerAppend} events per append; stored data per event: on ${storedBytesPerEvent.on} bytes, off ${storedBytesPerEvent.off}`,
      );
      const measured = report('events/s', subjects, rates, [protectedTarget, ...protectedFloor], 'side');
      missed += measured.missed;
      const rate = (name: string) => Math.round(median(rates.get(name) ?? []));
      perCase[c.name.replace(/^protected-/, '')] = {
        writers: c.writers,
        on: rate('on'),
        off: rate('off'),
        'on/off': measured.ratios['on/off'] ?? Number.NaN,
        raw: {
          on: rate('rawOn'),
          off: rate('rawOff'),
          'on/off': measured.ratios['rawOn/rawOff'] ?? Number.NaN,
        },
      };
    }
    for (const { appender } of appenders.values()) await appender.reset();
    const [headline, figures] = Object.entries(perCase).at(-1) as [string, ProtectedCaseResult];
    return {
      result: {
        case: headline,
        ...figures,
        target: protectedTarget.value ?? 0,
        customers: p.customerPoolSize,
        cases: perCase,
        statementsPerAppend: statements,
        storedBytesPerEvent,
        firstAppends: { unit: 'appends/s', writers: poolSize, ...firstAppends },
      },
      missed,
    };
  } finally {
    for (const side of p.sides) await Promise.all([stores[side].close(), twins?.[side].close()]);
  }
}

/** What results/append.json says of the command path. */
interface CommandPathResult {
  readonly unit: 'commands/s';
  readonly callers: number;
  readonly myelin: number;
  readonly raw: number;
  readonly 'myelin/raw': number;
  readonly statementsPerCommand: Record<string, Statements>;
}

/**
 * One deposit command at a time per caller, 16 callers: through Myelin's mediator, handler, event-sourced
 * repository and unit of work, against the twin reading the stream and appending by hand.
 */
async function measureCommandPath(twin: RawTwin): Promise<CommandPathResult> {
  // TODO(commandPath): this needs `postgresPersistence` and `postgresEventSourcedRepository` of @myelin/postgres,
  // and the event-sourced repository's `get`/`add`/`update` as in ./append/myelin.ts. Should they change shape,
  // `setUpMyelinCommands` is the one place to adapt.
  const { setUpMyelinCommands } = await import('./append/myelin.ts');
  const myelin = await setUpMyelinCommands();
  const rawSide = rawCommands(twin);
  try {
    await twin.reset();
    const subjects: Subject[] = [
      {
        name: 'raw',
        workers: createWriters('account-raw', commandCallers),
        operation: rawSide.operation,
        units: 0,
      },
      {
        name: 'myelin',
        workers: createWriters('account-myelin', commandCallers),
        operation: myelin.operation,
        units: 0,
      },
    ];
    const statements: Record<string, Statements> = {};
    for (const { name, operation } of subjects) statements[name] = await statementsOf(name, operation);
    const rates = await measureInRounds(subjects);
    console.log();
    console.log(`commandPath: ${commandCallers} callers, one deposit command each at a time`);
    console.log();
    console.log('| implementation | statements per command opening an account | continuing it |');
    console.log('| --- | ---: | ---: |');
    for (const { name } of subjects) {
      console.log(`| ${name} | ${statements[name]?.newStream} | ${statements[name]?.existingStream} |`);
    }
    const measured = report('commands/s', subjects, rates, commandPathTargets);
    await twin.reset();
    return {
      unit: 'commands/s',
      callers: commandCallers,
      myelin: Math.round(median(rates.get('myelin') ?? [])),
      raw: Math.round(median(rates.get('raw') ?? [])),
      'myelin/raw': measured.ratios['myelin/raw'] ?? Number.NaN,
      statementsPerCommand: statements,
    };
  } finally {
    await myelin.close();
  }
}
