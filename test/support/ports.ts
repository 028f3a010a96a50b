import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that is free right now: taken, then let go. A test uses it to start a
 * server of its own there, or as an address where nothing listens.
 */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}
