/**
 * A `text[]` parameter as PostgreSQL's array literal (`{"a","b"}`), to be cast with `$n::text[]`. Both drivers
 * accept a JS array too, but pg escapes each element with two regular expressions and a closure: for a bus
 * consumer's inbox, which sends hundreds of event ids per statement, that was about 1.5 µs of the process's CPU
 * per event (`npm run bench -- relay`). Every element is quoted, so an empty string, `NULL`, commas and braces
 * stay text; only `"` and `\` need escaping. @internal
 */
export function textArray(values: readonly string[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as string;
    if (i > 0) literal += ',';
    literal += needsEscape.test(value) ? `"${value.replaceAll(/["\\]/g, '\\$&')}"` : `"${value}"`;
  }
  return `${literal}}`;
}

const needsEscape = /["\\]/;
