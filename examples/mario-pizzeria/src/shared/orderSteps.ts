// What the steps of an order's life share: their id field, their route's options, and their handler's shape.
// Who takes a step (the chef, the driver, the manager) is the principal who sends it, never a field of the
// message: a command arriving by another transport is as trustworthy as one over HTTP.
import * as z from 'zod';

export const orderId = z.string().min(1).max(100);

/** A step's route: 200 with the order, 404 unknown, 409 when its status forbids the step. */
export function step<const TTag extends string>(tag: TTag) {
  return { status: 200, problems: [404, 409], tags: [tag] } as const;
}
