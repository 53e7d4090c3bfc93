// Runs one benchmark by name (`npm run bench -- dispatch`), or all of them without an argument.
const benchmarks: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  dispatch: () => import('./dispatch.ts'),
  append: () => import('./append.ts'),
  projections: () => import('./projections.ts'),
  relay: () => import('./relay.ts'),
  http: () => import('./http.ts'),
  live: () => import('./live.ts'),
  schedule: () => import('./schedule.ts'),
  partitions: () => import('./partitions.ts'),
};

const requested = process.argv.slice(2);
const names = requested.length === 0 ? Object.keys(benchmarks) : requested;
for (const name of names) {
  const load = benchmarks[name];
  if (load === undefined) {
    console.error(`Unknown benchmark '${name}'. Available: ${Object.keys(benchmarks).join(', ')}`);
    process.exit(2);
  }
}
for (const name of names) {
  const { main } = await (benchmarks[name] as () => Promise<{ main: () => Promise<void> }>)();
  await main();
}
