import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createApplication } from '../application/application.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, unchecked } from '../messages/message.ts';
import { internalServerError, ok } from '../results/operationResult.ts';
import { metrics } from './metrics.ts';

/** A reader the test collects from when it wants. */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const Ping = command('Ping', unchecked<{ fail?: boolean }>()).returns<string>();
const Throw = command('Throw', unchecked<object>()).returns<void>();
const Pinged = event('ping.pinged.v1', unchecked<object>());

describe('metrics', () => {
  it('adds nothing to the pipeline while no meter provider is registered: its measurements would go nowhere', () => {
    expect(metrics()).toEqual([]);
    expect(metrics({ meter: new MeterProvider().getMeter('test') })).toHaveLength(2);
  });

  it('records how long each request and each delivery took, by type, outcome and handler', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    await using app = await createApplication()
      .use(metrics({ meter: provider.getMeter('test') }))
      .handle(
        handler(Ping, async ({ fail }) => (fail ? internalServerError('down') : ok('pong'))),
        handler(Throw, async () => {
          throw new RangeError('out of range');
        }),
        eventHandler({ name: 'pings.count' }, Pinged, async () => {}),
      )
      .build();
    await app.mediator.execute(new Ping({}));
    await app.mediator.execute(new Ping({}));
    await app.mediator.execute(new Ping({ fail: true }));
    await app.mediator.execute(new Throw({})).catch(() => {});
    await app.mediator.publish(new Pinged({}));
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics[0]?.metrics.find(
      (m) => m.descriptor.name === 'messaging.process.duration',
    );
    expect(metric?.descriptor.unit).toBe('s');
    const points = (metric?.dataPoints ?? []).map((point) => ({
      attributes: point.attributes,
      count: (point.value as { count: number }).count,
    }));
    const base = { 'messaging.system': 'myelin', 'messaging.operation.type': 'process' };
    expect(points).toEqual(
      expect.arrayContaining([
        {
          attributes: {
            ...base,
            'messaging.destination.name': 'Ping',
            'myelin.message.kind': 'command',
            'myelin.result.status': 200,
          },
          count: 2,
        },
        {
          attributes: {
            ...base,
            'messaging.destination.name': 'Ping',
            'myelin.message.kind': 'command',
            'myelin.result.status': 500,
          },
          count: 1,
        },
        {
          attributes: {
            ...base,
            'messaging.destination.name': 'Throw',
            'myelin.message.kind': 'command',
            'error.type': 'RangeError',
          },
          count: 1,
        },
        {
          attributes: {
            ...base,
            'messaging.destination.name': 'ping.pinged.v1',
            'myelin.message.kind': 'event',
            'myelin.handler': 'pings.count',
          },
          count: 1,
        },
      ]),
    );
    expect(points).toHaveLength(4);
  });
});
