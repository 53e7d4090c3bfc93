import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import { type AnyMessageDefinition, definitionOf, payloadOf } from '../messages/message.ts';
import { badRequest } from '../results/operationResult.ts';
import { type FieldError, formatFieldPath, formatJsonPointer } from '../results/problemDetails.ts';

/**
 * Validates every command and query that declares a schema, before its handler runs. A failure is a 400 whose
 * `errors` name each failing field; on success the handler gets the schema's output (defaults and transforms
 * applied). Applications get it unless built with `validation: false`.
 */
export function validation(): Behavior {
  return behavior(
    { name: 'validation', order: BehaviorOrder.validation, scope: (definition) => isValidated(definition) },
    async (message, next) => {
      const definition = definitionOf(message) as AnyMessageDefinition;
      const schema = definition.schema as StandardSchemaV1;
      const outcome = await schema['~standard'].validate(payloadOf(message));
      if (outcome.issues !== undefined) {
        const errors = toFieldErrors(outcome.issues);
        const summary = errors.map((e) => (e.field === '' ? e.detail : `${e.field}: ${e.detail}`)).join('; ');
        return badRequest(`Invalid ${definition.kind} '${definition.type}': ${summary}`, errors);
      }
      return next(new definition(outcome.value as object));
    },
  );
}

/** Turns Standard Schema issues into field errors. */
export function toFieldErrors(issues: readonly StandardSchemaV1.Issue[]): FieldError[] {
  return issues.map((issue) => {
    const path = (issue.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment));
    return { field: formatFieldPath(path), pointer: formatJsonPointer(path), detail: issue.message };
  });
}

function isValidated(definition: AnyMessageDefinition): boolean {
  return definition.schema !== undefined && definition.schema['~standard'].vendor !== 'myelin-unchecked';
}
