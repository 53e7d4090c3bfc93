import { query } from '@myelin/core';
import { z } from 'zod';
import { StatisticsDto } from '../dtos.ts';

export const GetStatistics = query('GetStatistics', z.object({}), {
  description:
    "The manager's numbers: orders per status, revenue, top pizzas, time to ready, revenue per day",
}).returns(StatisticsDto);
