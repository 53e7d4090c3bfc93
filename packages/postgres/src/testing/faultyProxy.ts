// Test support (not published): a TCP proxy in front of a real server that a test can stop (the server goes away:
// connections cut, new ones refused) or freeze (connections and new ones accepted, nothing answered, as a server
// stopped with SIGSTOP behaves, since the kernel still accepts for it), and then bring back.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultyProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number;
  /** Cuts every connection and refuses new ones, until {@link resume}. */
  stop(): Promise<void>;
  /** Accepts connections but passes nothing either way, until {@link resume}. */
  freeze(): void;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function faultyProxy(target: { host: string; port: number }): Promise<FaultyProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  let server: Server | undefined;
  let port = 0;

  const listen = async () => {
    const listening = createServer((client) => {
      const upstream = connect(target.port, target.host);
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      // After pipe(), which resumes its source.
      if (frozen) {
        client.pause();
        upstream.pause();
      }
      const drop = () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    port = (listening.address() as { port: number }).port;
    server = listening;
  };
  await listen();

  const proxy: FaultyProxy = {
    get port() {
      return port;
    },
    async stop() {
      const stopping = server;
      server = undefined;
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => (stopping ? stopping.close(() => resolve()) : resolve()));
    },
    freeze() {
      frozen = true;
      for (const [client, upstream] of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    async resume() {
      frozen = false;
      for (const [client, upstream] of pairs) {
        client.resume();
        upstream.resume();
      }
      if (server === undefined) await listen();
    },
    close: () => proxy.stop(),
  };
  return proxy;
}
