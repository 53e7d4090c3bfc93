// The browsers of the live benchmark, in a process of their own (the server's file descriptors and event loop
// stay its own): opens streams on raw sockets, waits for each one's first event, then reports when a marker (an
// update's unique text) reaches each stream. Driven by the parent over IPC.
import { connect, type Socket } from 'node:net';

export type ClientRequest =
  | {
      readonly open: {
        readonly host: string;
        readonly port: number;
        readonly path: string;
        readonly headers: Readonly<Record<string, string>>;
        readonly count: number;
      };
    }
  | { readonly watch: string }
  | { readonly close: true };

export type ClientMessage =
  | { readonly opened: number; readonly refused: number }
  | { readonly watching: string }
  | { readonly arrivals: readonly number[]; readonly missing: number };

interface Stream {
  readonly socket: Socket;
  /** The end of what it received last, so a marker split across two chunks is still found. */
  tail: string;
}

const streams: Stream[] = [];
let watching: { marker: string; arrivals: number[]; pending: Set<Stream>; done: () => void } | undefined;
const now = () => performance.timeOrigin + performance.now();
const send = (message: ClientMessage) => process.send?.(message);

function received(stream: Stream, chunk: string): void {
  const text = stream.tail + chunk;
  stream.tail = text.slice(-200);
  if (watching?.pending.has(stream) && text.includes(watching.marker)) {
    watching.arrivals.push(now());
    watching.pending.delete(stream);
    if (watching.pending.size === 0) watching.done();
  }
}

/** Opens one stream; resolves true once its first event arrived, false when refused. */
function open(request: Extract<ClientRequest, { open: unknown }>['open']): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(request.port, request.host);
    socket.setEncoding('utf8');
    const stream: Stream = { socket, tail: '' };
    let head = '';
    const first = (chunk: string) => {
      head += chunk;
      if (!head.startsWith('HTTP/1.1 200')) {
        if (head.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(false);
        }
        return;
      }
      if (!/\ndata: /.test(head)) return; // headers, `retry:`, but no event yet
      socket.off('data', first);
      socket.on('data', (more: string) => received(stream, more));
      streams.push(stream);
      resolve(true);
    };
    socket.on('data', first);
    socket.on('error', () => resolve(false));
    const headers = Object.entries(request.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.write(
      `GET ${request.path} HTTP/1.1\r\nhost: ${request.host}\r\naccept: text/event-stream\r\n${headers}\r\n`,
    );
  });
}

process.on('message', async (request: ClientRequest) => {
  if ('open' in request) {
    let opened = 0;
    let refused = 0;
    // A few hundred at a time: the server's accept queue is not the thing measured.
    for (let started = 0; started < request.open.count; started += 250) {
      const batch = Math.min(250, request.open.count - started);
      const results = await Promise.all(Array.from({ length: batch }, () => open(request.open)));
      for (const ok of results) {
        if (ok) opened++;
        else refused++;
      }
    }
    send({ opened, refused });
  } else if ('watch' in request) {
    const arrivals: number[] = [];
    const pending = new Set(streams);
    const finished = new Promise<void>((resolve) => {
      watching = { marker: request.watch, arrivals, pending, done: resolve };
    });
    send({ watching: request.watch });
    // An update that never reaches some streams is reported as missing, not waited for forever.
    const timeout = setTimeout(() => watching?.done(), 60_000);
    await finished;
    clearTimeout(timeout);
    watching = undefined;
    send({ arrivals, missing: pending.size });
  } else {
    for (const stream of streams) stream.socket.destroy();
    process.exit(0);
  }
});
