// Runs one case of the dispatch benchmark for a while, after a mixed warm-up of all of them, to be profiled:
//   npx node --conditions=@myelin/source --cpu-prof --cpu-prof-dir=/tmp/profiles bench/src/profile.ts myelin 5

import { setUpMediatrTs } from './dispatch/mediatrTs.ts';
import { setUpMyelin } from './dispatch/myelin.ts';
import { setUpNestjsCqrs } from './dispatch/nestjsCqrs.ts';
import { direct, handComposed3 } from './dispatch/plain.ts';
import type { Case } from './harness.ts';

const name = process.argv[2] ?? 'myelin';
const seconds = Number(process.argv[3] ?? 5);
const myelin = await setUpMyelin();
const nest = await setUpNestjsCqrs();
const cases: Record<string, Case> = {
  direct,
  handComposed3,
  myelin: myelin.myelin,
  myelin3: myelin.myelin3,
  nestjsCqrs: nest.nestjsCqrs,
  mediatrTs3: setUpMediatrTs().mediatrTs3,
};
const selected = cases[name];
if (selected === undefined)
  throw new Error(`Unknown case '${name}'. Cases: ${Object.keys(cases).join(', ')}`);
// Warm every case up in small turns first, as the benchmark does, so that shared code is in the same state.
const mixUntil = performance.now() + 1000;
while (performance.now() < mixUntil) for (const c of Object.values(cases)) await c.batch(64);
const deadline = performance.now() + seconds * 1000;
let operations = 0;
const started = performance.now();
while (performance.now() < deadline) {
  await selected.batch(100_000);
  operations += 100_000;
}
const elapsed = performance.now() - started;
console.log(`${name}: ${operations} operations, ${((elapsed * 1e6) / operations).toFixed(1)} ns/op`);
await myelin.close();
await nest.close();
