// The floor of the live benchmark: node:http holding the same streams with nothing in between. An order is
// broadcast to every stream as it is posted (no database, no query, no authentication); the menu is a constant.
// It prints its URL on stdout, as the pizzeria does.
import { createServer, type ServerResponse } from 'node:http';

const streams = new Set<ServerResponse>();
const menu = JSON.stringify(
  ['margherita', 'pepperoni', 'veggie', 'hawaiian', 'quattro formaggi', 'diavola'].map((name, i) => ({
    name,
    description: `The ${name} pizza, as Mario makes it`,
    basePrice: { amount: 900 + i * 100, currency: 'EUR' },
    toppings: ['tomato', 'mozzarella'],
    available: true,
  })),
);
let orders = 0;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/api/menu') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(menu);
  } else if (request.method === 'GET' && request.url?.startsWith('/api/kitchen/live')) {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.write('retry: 2000\n\nevent: queue\ndata: []\n\n');
    streams.add(response);
    request.on('close', () => streams.delete(response));
  } else if (request.method === 'POST' && request.url === '/api/orders') {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      const order = { id: String(++orders), ...(JSON.parse(body) as object), status: 'confirmed' };
      const frame = `event: queue\ndata: ${JSON.stringify({ items: [order] })}\n\n`;
      for (const stream of streams) stream.write(frame);
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(order));
    });
  } else {
    response.writeHead(404).end();
  }
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(`raw live server at http://127.0.0.1:${address.port}`);
});
