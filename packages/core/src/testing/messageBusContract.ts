import type { BusMessage, MessageBus } from '../integration/messageBus.ts';
import { SpecificationError } from './aggregateSpec.ts';
import { type ContractCase, expectEqual, uniqueName } from './contract.ts';

/** What the message-bus contract runs against: two buses on one broker (two processes, say), or one bus twice. */
export interface MessageBusUnderTest {
  readonly bus: MessageBus;
  /** Another connection to the same broker; the same bus where there is no broker (memory). */
  readonly other: MessageBus;
  /** How long a delivery may take before a case fails; defaults to 10 s. */
  readonly deliveryMs?: number;
}

function message(type: string, data: unknown): BusMessage {
  return {
    data,
    metadata: {
      eventId: crypto.randomUUID(),
      type,
      version: 2,
      occurredAt: new Date('2026-11-22T10:00:00.000Z'),
      correlationId: 'corr-1',
      causationId: 'cause-1',
      principal: undefined,
    },
  };
}

/** Resolves when `done()` holds, checked at each delivery; fails the case after `ms`. */
function until(ms: number, what: string): { readonly reached: Promise<void>; check(done: boolean): void } {
  let resolve: () => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const reached = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  const timer = setTimeout(() => reject(new SpecificationError(`${what}: not within ${ms} ms`)), ms);
  return {
    reached: reached.finally(() => clearTimeout(timer)),
    check: (done) => {
      if (done) resolve();
    },
  };
}

/**
 * What every {@link MessageBus} must do, as a list of cases any test runner can run. Each case uses event types and
 * subscription names of its own, so the cases may share a bus.
 */
export function messageBusContract(): ContractCase<MessageBusUnderTest>[] {
  return [
    {
      name: 'delivers a published message to a subscriber of its type, its data and metadata intact',
      async run({ bus, deliveryMs = 10_000 }) {
        const type = uniqueName('contract.placed.');
        const got: BusMessage[] = [];
        const waiting = until(deliveryMs, 'the delivery');
        const stop = bus.subscribe(type, (m) => waiting.check(got.push(m) === 1), {
          name: uniqueName('sub-'),
        });
        try {
          const sent = message(type, { orderId: 'o-1', total: 2598 });
          await bus.publish([sent]);
          await waiting.reached;
          const [received] = got;
          expectEqual(received?.data, sent.data, 'the data');
          const metadata = received?.metadata;
          expectEqual(
            {
              eventId: metadata?.eventId,
              type: metadata?.type,
              version: metadata?.version,
              correlationId: metadata?.correlationId,
              causationId: metadata?.causationId,
              occurredAt: metadata?.occurredAt.toISOString(),
            },
            {
              eventId: sent.metadata.eventId,
              type,
              version: 2,
              correlationId: 'corr-1',
              causationId: 'cause-1',
              occurredAt: '2026-11-22T10:00:00.000Z',
            },
            'the metadata',
          );
        } finally {
          stop();
        }
      },
    },
    {
      name: 'gives every message to each subscription, and to one of the subscribers that share a name',
      async run({ bus, other, deliveryMs = 10_000 }) {
        const type = uniqueName('contract.shared.');
        const shared = uniqueName('shared-');
        const handledBy = new Map<string, string[]>();
        const audit: string[] = [];
        const count = 20;
        const waiting = until(deliveryMs, 'every delivery');
        const settle = () => waiting.check(audit.length === count && handledBy.size === count);
        const record = (who: string) => (m: BusMessage) => {
          handledBy.set(m.metadata.eventId, [...(handledBy.get(m.metadata.eventId) ?? []), who]);
          settle();
        };
        const stops = [
          bus.subscribe(type, record('a'), { name: shared }),
          other.subscribe(type, record('b'), { name: shared }),
          bus.subscribe(
            type,
            (m) => {
              audit.push(m.metadata.eventId);
              settle();
            },
            { name: uniqueName('audit-') },
          ),
        ];
        try {
          await bus.publish(Array.from({ length: count }, (_, i) => message(type, { i })));
          await waiting.reached;
          expectEqual(
            [...handledBy.values()].filter((who) => who.length !== 1),
            [],
            'messages the shared subscription handled more than once',
          );
          expectEqual(new Set(audit).size, count, 'messages the other subscription got');
        } finally {
          for (const stop of stops) stop();
        }
      },
    },
    {
      name: 'delivers again a message whose handler failed, to that subscription only',
      async run({ bus, deliveryMs = 10_000 }) {
        const type = uniqueName('contract.retried.');
        let attempts = 0;
        let calm = 0;
        const waiting = until(deliveryMs, 'the redelivery');
        const stops = [
          bus.subscribe(
            type,
            () => {
              attempts++;
              if (attempts === 1) throw new Error('the first attempt fails');
              waiting.check(true);
            },
            { name: uniqueName('flaky-') },
          ),
          bus.subscribe(
            type,
            () => {
              calm++;
            },
            { name: uniqueName('calm-') },
          ),
        ];
        try {
          await bus.publish([message(type, {})]).catch(() => {
            // A bus without a broker may tell the publisher; the message is delivered again all the same.
          });
          await waiting.reached;
          expectEqual(attempts, 2, 'attempts of the failing subscription');
          expectEqual(calm, 1, 'deliveries to the other subscription');
        } finally {
          for (const stop of stops) stop();
        }
      },
    },
  ];
}
