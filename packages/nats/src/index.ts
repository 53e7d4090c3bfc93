/**
 * Integration events between services on NATS JetStream, as CloudEvents.
 * @module @myelin/nats
 */
export { type CloudEvent, cloudEventContentType, fromCloudEvent, toCloudEvent } from './cloudEvent.ts';
export { NatsMessageBus, type NatsMessageBusOptions } from './natsMessageBus.ts';
