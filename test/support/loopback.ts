import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';

export interface OnLoopback {
  readonly port: number;
  /** `127.0.0.1:port` */
  readonly address: string;
  /** Stops listening and ends the connections it still holds (a server that plays a silent host never ends them itself). */
  close(): Promise<void>;
}

/** Starts a test server on a free loopback port. */
export async function onLoopback(server: Server | HttpServer): Promise<OnLoopback> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
