import { describe, expect, it } from 'vitest';
import {
  accepted,
  badRequest,
  conflict,
  created,
  forbidden,
  internalServerError,
  isFailure,
  isSuccess,
  noContent,
  notFound,
  type OperationResult,
  ok,
  preconditionFailed,
  problem,
  serviceUnavailable,
  unauthorized,
  unprocessableEntity,
} from './operationResult.ts';

describe('OperationResult helpers', () => {
  it.each([
    ['ok', ok({ id: 1 }), 200],
    ['created', created({ id: 1 }, '/api/orders/1'), 201],
    ['accepted', accepted(), 202],
    ['noContent', noContent(), 204],
  ] as const)('%s is a success with status %i', (_name, result, status) => {
    expect(result.ok).toBe(true);
    expect(result.status).toBe(status);
  });

  it('created carries the location of the new resource', () => {
    expect(created({ id: 'a' }, '/api/orders/a')).toEqual({
      ok: true,
      status: 201,
      data: { id: 'a' },
      location: '/api/orders/a',
    });
  });

  it.each([
    ['badRequest', badRequest('Order must contain at least one pizza'), 400, 'Bad Request'],
    ['unauthorized', unauthorized(), 401, 'Unauthorized'],
    ['forbidden', forbidden(), 403, 'Forbidden'],
    ['notFound', notFound('Order', 'abc'), 404, 'Not Found'],
    ['conflict', conflict('Order is already delivered'), 409, 'Conflict'],
    ['preconditionFailed', preconditionFailed('ETag does not match'), 412, 'Precondition Failed'],
    ['unprocessableEntity', unprocessableEntity('Key reused'), 422, 'Unprocessable Content'],
    ['internalServerError', internalServerError(), 500, 'Internal Server Error'],
    ['serviceUnavailable', serviceUnavailable(), 503, 'Service Unavailable'],
  ] as const)(
    '%s is a failure with RFC 9457 problem details and status %i',
    (_name, result, status, title) => {
      expect(result.ok).toBe(false);
      expect(result.status).toBe(status);
      expect(result.problem).toMatchObject({ type: 'about:blank', title, status });
      expect(typeof result.problem.detail).toBe('string');
    },
  );

  it('notFound names the entity type and the key', () => {
    expect(notFound('Order', 'abc').problem.detail).toBe(
      "Failed to find an entity of type 'Order' with the specified id 'abc'",
    );
    expect(notFound('Order', 42).problem).toMatchObject({ entityType: 'Order', key: '42' });
  });

  it('badRequest and unprocessableEntity carry field errors', () => {
    const errors = [{ field: 'pizzas[0].size', pointer: '#/pizzas/0/size', detail: 'Invalid size' }];
    expect(badRequest('Invalid', errors).problem.errors).toEqual(errors);
    expect(unprocessableEntity('Invalid', errors).problem.errors).toEqual(errors);
  });

  it('problem() sets a custom type, title, instance and extensions without letting extensions override the standard members', () => {
    const failure = problem(409, 'Out of stock', {
      type: 'https://pizzeria.example/problems/out-of-stock',
      title: 'Out of stock',
      instance: '/api/orders/1',
      extensions: { pizza: 'supreme', status: 999 },
    });
    expect(failure.problem).toEqual({
      type: 'https://pizzeria.example/problems/out-of-stock',
      title: 'Out of stock',
      status: 409,
      detail: 'Out of stock',
      instance: '/api/orders/1',
      pizza: 'supreme',
    });
  });

  it('narrows on ok, isSuccess and isFailure', () => {
    const results: OperationResult<number>[] = [ok(1), notFound('Thing', 'x')];
    const seen = results.map((result) => (result.ok ? result.data : result.problem.status));
    expect(seen).toEqual([1, 404]);
    expect(results.filter(isSuccess).map((r) => r.data)).toEqual([1]);
    expect(results.filter(isFailure).map((r) => r.problem.title)).toEqual(['Not Found']);
  });
});
