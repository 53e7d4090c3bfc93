import { describe, expect, it } from 'vitest';
import { engines } from '../testing/databases.ts';
import { textArray } from './textArray.ts';

describe.each(engines)('text array literals on $name', (engine) => {
  it('give back every string as it was, whatever characters it holds', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const values = [
        'plain',
        '',
        'NULL',
        'null',
        'with space',
        'comma,inside',
        '{braces}',
        'quote " inside',
        'back\\slash',
        '\\"',
        '"',
        '\\',
        'tab\tand\nnewline',
        'Zoë Müller 🍕',
        "it's",
      ];
      const { rows } = await database.query<{ value: string }>(
        'SELECT value FROM unnest($1::text[]) WITH ORDINALITY AS t(value, n) ORDER BY t.n',
        [textArray(values)],
      );
      expect(rows.map((row) => row.value)).toEqual(values);
      expect(
        (await database.query<{ n: number }>('SELECT cardinality($1::text[]) AS n', [textArray([])])).rows[0]
          ?.n,
      ).toBe(0);
      // PostgreSQL's text holds no NUL byte: refused, as a JS array of the same strings is.
      await expect(database.query('SELECT unnest($1::text[])', [textArray(['a\u0000b'])])).rejects.toThrow();
      await expect(database.query('SELECT unnest($1::text[])', [['a\u0000b']])).rejects.toThrow();
    } finally {
      await drop();
    }
  });
});
