import type { Application } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import type { ExecutionContext } from '../mediation/executionContext.ts';
import { type AnyMessageDefinition, definitionOf } from '../messages/message.ts';
import { activeTraceIds } from '../observability/traceContext.ts';

type LogFunction = (fields: object, message?: string) => void;

/** The logger Myelin writes to. pino's loggers satisfy it as they are; so does a thin wrapper over `console`. */
export interface Logger {
  readonly debug: LogFunction;
  readonly info: LogFunction;
  readonly warn: LogFunction;
  readonly error: LogFunction;
}

/**
 * The application's logger, when it registers one (`.singleton(Logger, () => pino())`): background workers (the
 * relay, the projection daemons, bus consumers) report the errors they survive to it rather than to the console.
 */
export const Logger = token<Logger>('Logger');

/**
 * How a background worker of `app` reports an error it survives and retries: to the application's {@link Logger}
 * (with the error as `err` and the worker as `worker`), else to the console. An error marked `expected` (a lease
 * handed over to another process, or restarted by an operator's rebuild) is part of running several workers, not
 * a failure: a warning, so that error-level lines stay worth waking someone for.
 * @example new SubscriptionRunner(database, consumer, { onError: reportErrors(app, 'projection') })
 */
export function reportErrors(app: Application, kind: string): (error: unknown, name: string) => void {
  const logger = app.container.has(Logger) ? app.container.root.resolve(Logger) : undefined;
  return (error, name) => {
    const fields = { err: error, worker: `${kind}:${name}` };
    if (typeof error === 'object' && error !== null && (error as { expected?: unknown }).expected === true) {
      const message = `${kind} '${name}' stopped, resuming: ${(error as Error).message}`;
      if (logger === undefined) console.warn(`myelin: ${message}`);
      else logger.warn(fields, message);
    } else if (logger === undefined) console.error(`myelin: ${kind} '${name}' failed, retrying:`, error);
    else logger.error(fields, `${kind} '${name}' failed, retrying`);
  };
}

/**
 * Logs each request with its outcome, status and duration, and each event delivery, with the ids that tie them
 * together. Failures of 500 and above, and exceptions, are errors (with the exception); the rest is info/debug.
 */
export function logging(logger: Logger): Behavior[] {
  const fieldsOf = (definition: AnyMessageDefinition, context: ExecutionContext, started: number) => ({
    messageType: definition.type,
    kind: definition.kind,
    messageId: context.messageId,
    correlationId: context.correlationId,
    causationId: context.causationId,
    principal: context.principal?.subject,
    durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    // Inside tracing()'s span (it runs outside this behavior), the line names it: logs and traces join up.
    ...activeTraceIds(),
  });
  return [
    behavior(
      { name: 'logging', order: BehaviorOrder.logging, scope: 'requests' },
      async (message, next, context) => {
        const definition = definitionOf(message) as AnyMessageDefinition;
        const started = performance.now();
        try {
          const result = await next();
          const fields = { ...fieldsOf(definition, context, started), status: result.status };
          if (result.ok || result.status < 500) logger.info(fields, `${definition.type} ${result.status}`);
          else logger.error({ ...fields, problem: result.problem }, `${definition.type} ${result.status}`);
          return result;
        } catch (error) {
          logger.error({ ...fieldsOf(definition, context, started), err: error }, `${definition.type} threw`);
          throw error;
        }
      },
    ),
    behavior(
      { name: 'logging', order: BehaviorOrder.logging, scope: 'events' },
      async (event, next, context) => {
        const definition = definitionOf(event) as AnyMessageDefinition;
        const started = performance.now();
        try {
          await next();
          logger.debug(fieldsOf(definition, context, started), `${definition.type} handled`);
        } catch (error) {
          logger.error(
            { ...fieldsOf(definition, context, started), err: error },
            `${definition.type} handler failed`,
          );
          throw error;
        }
      },
    ),
  ];
}
