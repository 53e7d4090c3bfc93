import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { command, definitionOf, event, isMessage, payloadOf, query, unchecked } from './message.ts';

const PlaceOrder = command(
  'PlaceOrder',
  z.object({ customerName: z.string().min(1), pizzas: z.array(z.object({ name: z.string() })) }),
  { description: 'Places an order' },
).returns<{ id: string }>();

describe('message declarations', () => {
  it('gives a class whose instances carry the payload and point back to the declaration', () => {
    const message = new PlaceOrder({ customerName: 'Mario', pizzas: [{ name: 'margherita' }] });
    expect(message.customerName).toBe('Mario');
    expect(definitionOf(message)).toBe(PlaceOrder);
    expect(isMessage(message)).toBe(true);
    expect(isMessage({ customerName: 'Mario' })).toBe(false);
    expect(payloadOf(message)).toEqual({ customerName: 'Mario', pizzas: [{ name: 'margherita' }] });
    expect(JSON.stringify(message)).toBe('{"customerName":"Mario","pizzas":[{"name":"margherita"}]}');
  });

  it('still knows its declaration when the payload has a field named constructor (input from outside)', () => {
    const Save = command('Save', unchecked<Record<string, unknown>>());
    const message = new Save({ constructor: 'x', name: 'a' });
    expect(definitionOf(message)).toBe(Save);
    expect(isMessage(message)).toBe(true);
  });

  it('copies a payload’s own fields only: a __proto__ key from JSON and a polluted prototype change nothing', () => {
    const Save = command('Save', unchecked<Record<string, unknown>>());
    const parsed = JSON.parse('{"name":"a","__proto__":{"isAdmin":true}}') as Record<string, unknown>;
    const message = new Save(parsed);
    expect(Object.getPrototypeOf(message)).toBe(Save.prototype);
    expect(definitionOf(message)).toBe(Save);
    expect(payloadOf(message)).toEqual({ name: 'a' });
    expect((message as Record<string, unknown>).isAdmin).toBeUndefined();
    const inherited = Object.assign(Object.create({ role: 'admin' }) as object, { name: 'b' });
    expect(payloadOf(new Save(inherited))).toEqual({ name: 'b' });
  });

  it('carries a stable type name, its kind and its options', () => {
    expect(PlaceOrder.type).toBe('PlaceOrder');
    expect(PlaceOrder.kind).toBe('command');
    expect(PlaceOrder.name).toBe('PlaceOrder');
    expect(PlaceOrder.options.description).toBe('Places an order');
    expect(query('GetOrder').kind).toBe('query');
    const placed = event('order.placed.v1', z.object({ id: z.string() }), { version: 1, integration: true });
    expect(placed.kind).toBe('event');
    expect(placed.options.integration).toBe(true);
  });

  it('produces the JSON Schema of the payload from a schema library that can (zod)', () => {
    expect(PlaceOrder.jsonSchema()).toMatchObject({
      type: 'object',
      properties: { customerName: { type: 'string', minLength: 1 }, pizzas: { type: 'array' } },
      required: ['customerName', 'pizzas'],
    });
  });

  it('accepts any Standard Schema library (valibot) and takes a JSON Schema from the declaration when given', () => {
    const Rename = command('Rename', v.object({ name: v.string() }), {
      jsonSchema: { type: 'object', properties: { name: { type: 'string' } } },
    });
    expect(Rename.schema?.['~standard'].vendor).toBe('valibot');
    expect(Rename.jsonSchema()).toEqual({ type: 'object', properties: { name: { type: 'string' } } });
  });

  it('has no JSON Schema for an unchecked payload', () => {
    expect(command('Tick', unchecked<{ at: number }>()).jsonSchema()).toBeUndefined();
  });

  it('rejects a type name that could not be routed or serialized', () => {
    expect(() => command('place order')).toThrow(/Invalid command type name 'place order'/);
    expect(() => event('')).toThrow(/Invalid event type name/);
  });

  it('lets users extend a declaration with methods', () => {
    class Greet extends command('Greet', unchecked<{ name: string }>()).returns<string>() {
      get greeting() {
        return `Hello, ${this.name}`;
      }
    }
    const greet = new Greet({ name: 'Luigi' });
    expect(greet.greeting).toBe('Hello, Luigi');
    expect(Greet.type).toBe('Greet');
    expect(definitionOf(greet)).toBe(Greet);
  });
});
