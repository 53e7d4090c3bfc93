// The query and its handler: read the read model, never the aggregate.
import { handler, notFound, ok, query } from '@myelin/core';
import { z } from 'zod';
import { NoteSummaries, type NoteSummary } from './noteSummaries.ts';

export const GetNote = query('GetNote', z.object({ id: z.string() }), {
  description: 'A note, with its word count',
}).returns<NoteSummary>();

export const getNote = handler(GetNote, { summaries: NoteSummaries }, async (q, { summaries }) => {
  const summary = await summaries.get(q.id);
  return summary === undefined ? notFound('Note', q.id) : ok(summary);
});
