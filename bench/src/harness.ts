// A small measuring harness for async operations, written for these benchmarks.
//
// Why not tinybench or mitata: both time one task to completion before the next, so slow drift (CPU frequency,
// a noisy neighbour on a 2-core machine, heap growth) lands on whichever case happened to run then. Here every
// round runs every case once, in a rotated order, and each case's figure is its median over the rounds. Each case
// also brings its own loop (see `Case.batch`), so the call in the loop stays monomorphic and the harness adds the
// same small cost to every case instead of a megamorphic dispatch that would weigh most on the fastest ones.

/** One thing to time. */
export interface Case {
  readonly name: string;
  /**
   * Runs the operation `iterations` times, one after the other (each awaited), with the inputs 0, 1, 2, …, and
   * returns the sum of the `data` of the results. The loop lives in the case so that its call site sees one
   * function only.
   */
  readonly batch: (iterations: number) => Promise<number>;
}

export interface MeasureOptions {
  /** Wall time a case is run for before timing starts, after calibration. */
  readonly warmupMs: number;
  /** Wall time one round of one case should take; fixes each case's iteration count. */
  readonly batchMs: number;
  readonly rounds: number;
  /** Called after each round (for progress output). */
  readonly onRound?: (round: number) => void;
}

/** What was measured for one case. */
export interface Measurement {
  readonly name: string;
  /** The median over the rounds, in nanoseconds per operation. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Interquartile range over the median, as a fraction: how much the rounds disagree. */
  readonly spread: number;
  readonly iterations: number;
  readonly samples: readonly number[];
}

/** The sum the batch of a correct case returns: each input `a` answers `a + 1`. */
export function expectedSum(iterations: number): number {
  return (iterations * (iterations - 1)) / 2 + iterations;
}

async function timeBatch(c: Case, iterations: number): Promise<number> {
  const started = process.hrtime.bigint();
  const sum = await c.batch(iterations);
  const elapsed = Number(process.hrtime.bigint() - started);
  if (sum !== expectedSum(iterations)) {
    throw new Error(
      `${c.name}: a batch of ${iterations} summed to ${sum}, expected ${expectedSum(iterations)}`,
    );
  }
  return elapsed;
}

/** Runs a case until `ms` have passed, doubling its batch; returns the last batch's ns/op. */
async function runFor(c: Case, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let iterations = 256;
  let nsPerOp = Number.POSITIVE_INFINITY;
  do {
    nsPerOp = (await timeBatch(c, iterations)) / iterations;
    if (iterations < 1 << 20) iterations *= 2;
  } while (performance.now() < deadline);
  return nsPerOp;
}

function quantile(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const a = sorted[low] ?? Number.NaN;
  const b = sorted[high] ?? Number.NaN;
  return a + (b - a) * (position - low);
}

/** The median of some numbers (NaN for none). */
export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((x, y) => x - y),
    0.5,
  );
}

/**
 * The median of the per-round ratios of two series measured in the same rounds (`numerator[r] / denominator[r]`):
 * both ran in the same round, moments apart, so a slow spell of the machine weighs on both sides of each ratio.
 */
export function pairedRatio(numerator: readonly number[], denominator: readonly number[]): number {
  return median(numerator.map((value, round) => value / (denominator[round] ?? Number.NaN)));
}

/**
 * Runs `rounds` rounds, each running every subject once, the order rotated by one every round (round r starts
 * with subject r mod n), so that no subject is always the one run first, or always the one run after another's
 * load. The caller warms the subjects up first and keeps what `run` measures.
 */
export async function inRotatedRounds<T>(
  subjects: readonly T[],
  rounds: number,
  run: (subject: T, round: number) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < subjects.length; k++) {
      await run(subjects[(round + k) % subjects.length] as T, round);
    }
  }
}

/**
 * Warms every case up (first in small interleaved turns, then in two interleaved passes), fixes each case's
 * iteration count from its warm speed, then runs `rounds` rounds, rotating the order every round.
 */
export async function measure(cases: readonly Case[], options: MeasureOptions): Promise<Measurement[]> {
  // First every case runs in small turns, so that code shared by several cases (a library's dispatch function)
  // is first optimized having seen all of them, as in a service where many message types are hot at once.
  // Otherwise whichever case came first in the list would get code specialized for it alone.
  const mixUntil = performance.now() + options.warmupMs / 4;
  while (performance.now() < mixUntil) {
    for (const c of cases) await timeBatch(c, 64);
  }
  const perCase = options.warmupMs / 2;
  const warmSpeed = new Map<Case, number>();
  for (let pass = 0; pass < 2; pass++) {
    for (const c of cases) warmSpeed.set(c, await runFor(c, perCase));
  }
  const iterations = cases.map((c) =>
    Math.max(1000, Math.round((options.batchMs * 1e6) / (warmSpeed.get(c) ?? 1000))),
  );
  const samples = cases.map((): number[] => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (round + k) % cases.length;
      const c = cases[index] as Case;
      const n = iterations[index] as number;
      (samples[index] as number[]).push((await timeBatch(c, n)) / n);
    }
    options.onRound?.(round + 1);
  }
  return cases.map((c, index) => {
    const sorted = [...(samples[index] as number[])].sort((x, y) => x - y);
    const median = quantile(sorted, 0.5);
    return {
      name: c.name,
      median,
      min: sorted[0] ?? Number.NaN,
      max: sorted[sorted.length - 1] ?? Number.NaN,
      spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / median,
      iterations: iterations[index] as number,
      samples: samples[index] as number[],
    };
  });
}
