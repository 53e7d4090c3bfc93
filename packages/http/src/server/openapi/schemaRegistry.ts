// The messages' JSON Schemas as the document's components: each registered once under its type name, with the
// references inside rewritten to point at the components, so that one schema used by several routes is shared.
import type { AnyMessageDefinition } from '@myelin/core';
import { isObject, type Json } from './json.ts';

/** A message's payload schema as registered: the component's name and its top level, for picking fields. */
export interface PayloadSchema {
  readonly name: string;
  readonly root: Json;
  readonly properties: Readonly<Record<string, Json>>;
  readonly required: readonly string[];
}

/**
 * `components.schemas`: one entry per message (named after its type) and per result, with the `$defs` of each
 * hoisted beside it, since a `#/$defs/...` reference inside a component would resolve against the document.
 */
export class SchemaRegistry {
  readonly schemas: Record<string, Json> = {};
  readonly #payloads = new Map<AnyMessageDefinition, PayloadSchema | undefined>();
  readonly #results = new Map<AnyMessageDefinition, Json | undefined>();
  /** Definitions hoisted under their own name (a schema's id), by name: their text, to share them when equal. */
  readonly #shared = new Map<string, string>();

  message(definition: AnyMessageDefinition): PayloadSchema | undefined {
    if (this.#payloads.has(definition)) return this.#payloads.get(definition);
    let schema: Record<string, unknown> | undefined;
    try {
      schema = definition.jsonSchema();
    } catch {
      schema = undefined;
    }
    let payload: PayloadSchema | undefined;
    if (isObject(schema)) {
      const name = this.#add(schema, definition.type);
      const root = this.schemas[name] ?? {};
      const properties = isObject(root.properties) ? (root.properties as Record<string, Json>) : {};
      const required = Array.isArray(root.required)
        ? root.required.filter((field): field is string => typeof field === 'string')
        : [];
      payload = { name, root, properties, required };
    }
    this.#payloads.set(definition, payload);
    return payload;
  }

  /** The request body: the whole message by reference, or a copy without the fields the caller does not send. */
  bodyOf(
    definition: AnyMessageDefinition,
    payload: PayloadSchema | undefined,
    omitted: ReadonlySet<string>,
  ): Json {
    // A schema library without JSON Schema support: the body is documented as some object.
    if (payload === undefined) return { type: 'object', description: `The fields of ${definition.type}` };
    const ref = { $ref: `#/components/schemas/${payload.name}` };
    if (!Object.keys(payload.properties).some((field) => omitted.has(field))) return ref;
    const properties = Object.fromEntries(
      Object.entries(payload.properties).filter(([field]) => !omitted.has(field)),
    );
    const required = payload.required.filter((field) => !omitted.has(field));
    const { required: _required, ...rest } = payload.root;
    return { ...rest, properties, ...(required.length > 0 ? { required } : {}) };
  }

  /** The result's schema by reference, when its schema library can express it as JSON Schema. */
  result(definition: AnyMessageDefinition): Json | undefined {
    if (this.#results.has(definition)) return this.#results.get(definition);
    const standard = definition.resultSchema?.['~standard'] as StandardJsonSchemaProps | undefined;
    let schema: unknown;
    try {
      schema = standard?.jsonSchema?.output({ target: 'draft-2020-12' });
    } catch {
      // Libraries refuse types JSON cannot carry (dates, functions): the result is documented as any JSON.
      schema = undefined;
    }
    let ref: Json | undefined;
    if (isObject(schema)) {
      const name = this.#add(schema, `${definition.type}.Result`);
      const root = this.schemas[name] ?? {};
      // A result that is a named schema itself (`.meta({ id })`) is a reference only: point at the named one.
      if (Object.keys(root).length === 1 && typeof root.$ref === 'string') {
        delete this.schemas[name];
        ref = { $ref: root.$ref };
      } else ref = { $ref: `#/components/schemas/${name}` };
    }
    this.#results.set(definition, ref);
    return ref;
  }

  /** Registers a schema and its definitions under fresh names; returns the schema's name. */
  #add(schema: Json, wanted: string): string {
    const name = this.#reserve(wanted);
    const { $schema: _dialect, $defs, definitions, ...root } = schema;
    const hoisted = new Map<string, string>();
    const pending: [string, unknown][] = [];
    for (const [keyword, defs] of [
      ['$defs', $defs],
      ['definitions', definitions],
    ] as const) {
      if (!isObject(defs)) continue;
      for (const [defName, def] of Object.entries(defs)) {
        // A definition named by the schema library after an id the application gave (`OrderDto`) is hoisted
        // under that name, once: every result using it then refers to one component, as a reader expects.
        const text = JSON.stringify(def);
        if (this.#shared.get(defName) === text) {
          hoisted.set(`${keyword}/${defName}`, defName);
          continue;
        }
        const own = !(defName in this.schemas) && defName !== 'Problem' && !this.#shared.has(defName);
        const target = this.#reserve(own ? defName : `${name}.${defName}`);
        if (own && target === defName) this.#shared.set(defName, text);
        hoisted.set(`${keyword}/${defName}`, target);
        pending.push([target, def]);
      }
    }
    const rewrite = (ref: string): string => {
      if (!ref.startsWith('#')) return ref;
      const segments = ref.slice(1).split('/');
      const [, keyword, defName, ...rest] = segments;
      if (keyword !== undefined && defName !== undefined) {
        const target = hoisted.get(`${keyword}/${unescapePointer(defName)}`);
        if (target !== undefined) return [`#/components/schemas/${target}`, ...rest].join('/');
      }
      return `#/components/schemas/${name}${ref.slice(1)}`;
    };
    this.schemas[name] = rewriteRefs(root, rewrite) as Json;
    for (const [target, def] of pending) this.schemas[target] = rewriteRefs(def, rewrite) as Json;
    return name;
  }

  #reserve(wanted: string): string {
    const base = wanted.replaceAll(/[^a-zA-Z0-9._-]/g, '_') || 'Schema';
    let name = base;
    for (let n = 2; name in this.schemas || name === 'Problem'; n++) name = `${base}_${n}`;
    this.schemas[name] = {};
    return name;
  }
}

/** The part of a Standard JSON Schema (standardschema.dev) this file uses, without depending on the package. */
interface StandardJsonSchemaProps {
  readonly jsonSchema?: { output(options: { readonly target: string }): unknown };
}

function rewriteRefs(value: unknown, rewrite: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, rewrite));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = key === '$ref' && typeof item === 'string' ? rewrite(item) : rewriteRefs(item, rewrite);
  }
  return out;
}

function unescapePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}
