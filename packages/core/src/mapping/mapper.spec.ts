import { describe, expect, it } from 'vitest';
import { createMapper, MappingError, mapTarget } from './mapper.ts';

class Pizza {
  readonly name: string;
  readonly cents: number;
  constructor(name: string, cents: number) {
    this.name = name;
    this.cents = cents;
  }
}
class SpecialPizza extends Pizza {}
class Topping {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}
interface PizzaDto {
  name: string;
  price: string;
}
const PizzaDto = mapTarget<PizzaDto>('PizzaDto');
class PizzaLabel {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

describe('mapper', () => {
  const mapper = createMapper()
    .add(Pizza, PizzaDto, (pizza) => ({ name: pizza.name, price: (pizza.cents / 100).toFixed(2) }))
    .add(Pizza, PizzaLabel, (pizza, inner) => new PizzaLabel(`${inner.map(pizza, PizzaDto).name}!`));

  it('maps a registered pair, to an interface target or a class', () => {
    expect(mapper.map(new Pizza('margherita', 1299), PizzaDto)).toEqual({
      name: 'margherita',
      price: '12.99',
    });
    expect(mapper.map(new Pizza('supreme', 1799), PizzaLabel)).toEqual(new PizzaLabel('supreme!'));
  });

  it("uses a base class's mapping for a subclass", () => {
    expect(mapper.map(new SpecialPizza('diavola', 1599), PizzaDto)).toEqual({
      name: 'diavola',
      price: '15.99',
    });
  });

  it('names both sides when a pair was never registered', () => {
    expect(() => mapper.map(new Topping('basil') as never, PizzaDto)).toThrow(MappingError);
    expect(() => mapper.map(new Topping('basil') as never, PizzaDto)).toThrow(
      'No mapping from Topping to PizzaDto',
    );
  });

  it('refuses to register a pair twice', () => {
    expect(() =>
      createMapper()
        .add(Pizza, PizzaDto, () => ({ name: '', price: '' }))
        .add(Pizza, PizzaDto, () => ({ name: '', price: '' })),
    ).toThrow('A mapping from Pizza to PizzaDto is already registered');
  });
});
