import { query } from '@myelin/core';
import { z } from 'zod';
import { MenuDto } from '../dtos.ts';

export const GetMenu = query('GetMenu', z.object({ all: z.boolean().optional() }), {
  description: 'The pizzas on the menu, and the toppings; managers may ask for retired pizzas too (all=true)',
}).returns(MenuDto);
