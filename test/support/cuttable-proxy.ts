// A TCP proxy in front of the runtime whose live connections a test can cut at once, as a dropped network would:
// what the reconnect tests of a streaming client stand between the client and the runtime.
import net from 'node:net';

export interface CuttableProxy {
  /** The proxy's base URL (`http://127.0.0.1:<port>`), standing in for the target's. */
  readonly url: string;
  /** Destroys every connection open now, both ways; new ones are accepted as before. Answers how many were cut. */
  cut(): number;
  close(): Promise<void>;
}

/** Forwards every connection on a free loopback port to `target` (an http:// URL's host and port). */
export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const live = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    live.add(socket);
    socket.on('close', () => live.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // One side gone takes the other with it, as a real broken path would.
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    cut() {
      const n = live.size;
      for (const socket of live) socket.destroy();
      return n;
    },
    async close() {
      for (const socket of live) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
