import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Selection } from '@strata/policy-engine';
import { DEFAULT_LEASE_MS, type NodeReport, type StateStore } from '../common/state';

/**
 * The embedded state store shared by the processes of a local cluster: the launcher
 * keeps a MemoryStateStore and serves it on loopback, and the nodes reach it through
 * HttpStateStore (common/state). (With --redis every process talks to Redis instead.)
 */
export async function serveStateStore(store: StateStore, port = 0): Promise<{ url: string; server: Server }> {
  const releases = new Map<string, () => Promise<void>>();
  let tokens = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString()) : {};
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value ?? null));
    };
    try {
      switch (req.url) {
        case '/heartbeat':
          return reply(200, await store.heartbeat(body.report as NodeReport, body.ttlMs as number));
        case '/deregister':
          return reply(200, await store.deregister(body.nodeId as string));
        case '/nodes':
          return reply(200, await store.liveNodes());
        case '/storage-nodes':
          return reply(200, await store.storageNodes());
        case '/membership':
          return reply(200, await store.membership(body.knownVersion as number | undefined));
        case '/reserve': {
          const reservation = await store.reserve(body.selection as Selection, body.leaseMs as number | undefined);
          if (reservation.kind === 'no-capacity') return reply(200, reservation);
          const token = String(++tokens);
          releases.set(token, reservation.release);
          // A caller that never releases leaves the lease to run out in the store; forget its token then too.
          setTimeout(() => releases.delete(token), (body.leaseMs as number | undefined) ?? DEFAULT_LEASE_MS).unref();
          return reply(200, {
            kind: 'chosen',
            nodeId: reservation.nodeId,
            address: reservation.address,
            inFlight: reservation.inFlight,
            token,
          });
        }
        case '/release': {
          const release = releases.get(body.token as string);
          releases.delete(body.token as string);
          return reply(200, await release?.());
        }
        default:
          return reply(404, { error: `no state call ${req.url}` });
      }
    } catch (error) {
      reply(500, { error: (error as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
