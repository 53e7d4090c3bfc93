// The browser side: the typed client over the service's routes. Bundled for the browser by the consumer test.
import { createClient } from '@myelin/http/client';
import { api } from './routes.ts';

const page = (globalThis as { location?: { origin: string } }).location;
export const client = createClient(api, { baseUrl: page?.origin ?? '' });
