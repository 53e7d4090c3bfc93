// Prometheus metrics at /metrics, when the process turns them on (METRICS=on): how long each message took.
import { metrics } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { testServer } from '../testing/testPizzeria.ts';
import { prometheusMetrics } from './metrics.ts';

afterAll(() => metrics.disable());

describe('/metrics', () => {
  it('is not served unless turned on', async () => {
    await using t = await testServer();
    expect((await t.server.inject('/metrics')).statusCode).toBe(404);
  });

  it('serves how long each message took, by type and outcome, in the Prometheus text format', async () => {
    const exporter = prometheusMetrics(); // before the application is built, as main.ts does
    await using t = await testServer({}, { metrics: exporter });
    const placed = await t.server.inject({
      method: 'POST',
      url: '/api/orders',
      payload: {
        customerName: 'Yoshi',
        customerPhone: '555 0150',
        pizzas: [{ name: 'margherita', size: 'small' }],
      },
    });
    expect(placed.statusCode).toBe(201);
    const response = await t.server.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    const line = response.body
      .split('\n')
      .find((l) => l.startsWith('messaging_process_duration_count') && l.includes('"PlaceOrder"'));
    expect(line).toMatch(/myelin_result_status="201"/);
    expect(line).toMatch(/ 1$/);
    // In seconds, with buckets for seconds: a request of a few milliseconds is not lumped with one of five seconds.
    expect(response.body).toMatch(/messaging_process_duration_bucket\{[^}]*"PlaceOrder"[^}]*le="0.005"\}/);
    // And what the database says: how far behind each projection is.
    expect(response.body).toMatch(/myelin_projection_lag\{[^}]*myelin_projection="kitchen-queue"[^}]*\} \d+/);
    // Nothing personal: the customer's name is not in the metrics.
    expect(response.body).not.toContain('Yoshi');
  });

  it('asks for its bearer token when given one, and tells nothing without it', async () => {
    const token = 'Qm4Zt8Lw2Rx6Vc1Np9Hy3Kd7Fs5Gj0Ab';
    await using t = await testServer({}, { metrics: prometheusMetrics(), metricsToken: token });
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, token, `Basic ${token}`]) {
      const refused = await t.server.inject({
        url: '/metrics',
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(refused.statusCode, String(authorization)).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(refused.body).not.toContain('messaging_process_duration');
    }
    const read = await t.server.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(read.statusCode).toBe(200);
    expect(read.body).toContain('# HELP');
  });
});
