// The cost of dispatching one trivial command: by hand, through Myelin, and through two other mediators.
// Every case answers `{ a }` with `ok(a + 1)` from an async handler; see ../README.md for what each one measures.
import { deepStrictEqual } from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { ok } from '@myelin/core';
import { setUpMediatrTs } from './dispatch/mediatrTs.ts';
import { setUpMyelin } from './dispatch/myelin.ts';
import { setUpNestjsCqrs } from './dispatch/nestjsCqrs.ts';
import { direct, handComposed3, once as plainOnce } from './dispatch/plain.ts';
import { type Case, type Measurement, measure } from './harness.ts';

const caseNames = ['direct', 'myelin', 'handComposed3', 'myelin3', 'nestjsCqrs', 'mediatrTs3'] as const;
type CaseName = (typeof caseNames)[number];

interface Target {
  readonly name: string;
  readonly numerator: CaseName;
  readonly denominator: CaseName;
  readonly bound: 'max' | 'min';
  readonly value: number;
}

const targets: readonly Target[] = [
  { name: 'myelin/direct', numerator: 'myelin', denominator: 'direct', bound: 'max', value: 2 },
  {
    name: 'myelin3/handComposed3',
    numerator: 'myelin3',
    denominator: 'handComposed3',
    bound: 'max',
    value: 1.5,
  },
  { name: 'nestjsCqrs/myelin', numerator: 'nestjsCqrs', denominator: 'myelin', bound: 'min', value: 2 },
  { name: 'mediatrTs3/myelin3', numerator: 'mediatrTs3', denominator: 'myelin3', bound: 'min', value: 2 },
];

const options = { warmupMs: 1000, batchMs: 10, rounds: 100 };

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The median over the rounds of `numerator`'s time over `denominator`'s time in the same round. */
function pairedRatio(numerator: Measurement, denominator: Measurement): number {
  const ratios = numerator.samples
    .map((sample, round) => sample / (denominator.samples[round] ?? Number.NaN))
    .sort((x, y) => x - y);
  const middle = ratios.length / 2;
  return ratios.length % 2 === 1
    ? (ratios[Math.floor(middle)] as number)
    : ((ratios[middle - 1] as number) + (ratios[middle] as number)) / 2;
}

export async function main(): Promise<void> {
  const myelin = await setUpMyelin();
  const nest = await setUpNestjsCqrs();
  const mediatr = setUpMediatrTs();
  try {
    // Each case must answer correctly before it is timed (and every timed batch checks its sum again).
    const once: Record<CaseName, (a: number) => Promise<unknown>> = {
      direct: plainOnce.direct,
      myelin: myelin.once.myelin,
      handComposed3: plainOnce.handComposed3,
      myelin3: myelin.once.myelin3,
      nestjsCqrs: nest.once,
      mediatrTs3: mediatr.once,
    };
    for (const name of caseNames) {
      const result = await once[name](41);
      try {
        deepStrictEqual(result, ok(42));
      } catch (error) {
        throw new Error(`The ${name} case answered ${JSON.stringify(result)} instead of ok(42)`, {
          cause: error,
        });
      }
    }

    const cases: Record<CaseName, Case> = {
      direct,
      myelin: myelin.myelin,
      handComposed3,
      myelin3: myelin.myelin3,
      nestjsCqrs: nest.nestjsCqrs,
      mediatrTs3: mediatr.mediatrTs3,
    };
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(`dispatch: Node ${process.version}, ${cpus().length} × ${cpu}`);
    console.log(
      `warm-up ${options.warmupMs / 4} ms in mixed turns, then ${options.warmupMs} ms per case; ${options.rounds} interleaved rounds of ~${options.batchMs} ms per case`,
    );
    const measured = await measure(
      caseNames.map((name) => cases[name]),
      {
        ...options,
        onRound: (round) => {
          if (round % 25 === 0) console.log(`  round ${round}/${options.rounds}`);
        },
      },
    );
    const byName = new Map<string, Measurement>(measured.map((m) => [m.name, m]));
    const get = (name: CaseName): Measurement => {
      const m = byName.get(name);
      if (m === undefined) throw new Error(`No measurement for ${name}`);
      return m;
    };

    console.log();
    console.log('| case | ns/op (median) | min | max | IQR/median | ops/round |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const m of measured) {
      console.log(
        `| ${m.name} | ${round1(m.median)} | ${round1(m.min)} | ${round1(m.max)} | ${(m.spread * 100).toFixed(1)}% | ${m.iterations} |`,
      );
    }

    // A ratio is the median of the per-round ratios: both cases ran in the same round, moments apart, so a slow
    // spell of the machine cancels out. The ratio of the two medians is shown beside it.
    const ratios: Record<string, number> = {};
    let missed = 0;
    console.log();
    console.log('| ratio | value | ratio of medians | target | status |');
    console.log('| --- | ---: | ---: | ---: | --- |');
    for (const t of targets) {
      const ratio = pairedRatio(get(t.numerator), get(t.denominator));
      const met = t.bound === 'max' ? ratio <= t.value : ratio >= t.value;
      if (!met) missed++;
      ratios[t.name] = Math.round(ratio * 100) / 100;
      const ofMedians = get(t.numerator).median / get(t.denominator).median;
      console.log(
        `| ${t.name} | ${ratio.toFixed(2)} | ${ofMedians.toFixed(2)} | ${t.bound === 'max' ? '<=' : '>='} ${t.value} | ${met ? 'met' : 'not met'} |`,
      );
    }

    const results = Object.fromEntries(caseNames.map((name) => [name, round1(get(name).median)]));
    const file = new URL('../results/dispatch.json', import.meta.url);
    await mkdir(new URL('.', file), { recursive: true });
    await writeFile(file, `${JSON.stringify({ unit: 'ns/op', results, ratios }, null, 2)}\n`);
    console.log(`\nwrote ${file.pathname}`);
    if (missed > 0) console.log(`${missed} target(s) not met`);
  } finally {
    await myelin.close();
    await nest.close();
  }
}
