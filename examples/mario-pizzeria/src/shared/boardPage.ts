import * as z from 'zod';

/** Tickets on one page of a board: a busy evening's open orders, on one screen or two. */
export const boardPageSize = 100;

/**
 * Which page of a staff board: every open order is on one of them, oldest first, however many there are (a
 * flood of orders pushes the newest to later pages; it hides none).
 */
export const boardPage = z.object({
  page: z.number().int().min(1).max(100_000).default(1),
  pageSize: z.number().int().min(1).max(200).default(boardPageSize),
});
