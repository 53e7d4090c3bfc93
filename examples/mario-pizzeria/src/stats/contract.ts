// What clients see of the statistics: the query and its route (handler-free: the browser imports it).
import { query } from '@myelin/core';
import { get } from '@myelin/http/client';
import * as z from 'zod';
import { StatisticsDto } from '../shared/dtos.ts';

export const GetStatistics = query('GetStatistics', z.object({}), {
  description:
    "The manager's numbers: orders per status, revenue, top pizzas, time to ready, revenue per day",
}).returns(StatisticsDto);

export const statsRoutes = {
  statistics: get('/api/stats', GetStatistics, { tags: ['statistics'], summary: "The manager's numbers" }),
};
