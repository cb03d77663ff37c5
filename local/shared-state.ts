import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Selection } from '@strata/policy-engine';
import { BodyError, parseJsonBody, readBody } from '../common/http/json';
import { DEFAULT_LEASE_MS, type NodeReport, type QueuePlace, type StateStore } from '../common/state';
import { refuseForeign } from './loopback';

/** The largest request a node sends the state server (a heartbeat with its service times is a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The embedded state store shared by the processes of a local cluster: the launcher
 * keeps a MemoryStateStore and serves it on loopback, and the nodes reach it through
 * HttpStateStore (common/state). (With --redis every process talks to Redis instead.)
 *
 * Only its own nodes may call it: each call carries the random token in the URL it
 * returns (`http://:token@127.0.0.1:port`, given to the nodes through their
 * environment), sends JSON (a browser cannot send that cross-site without asking first)
 * to a loopback Host; anything else is refused before the body is read.
 */
export async function serveStateStore(
  store: StateStore,
  port = 0,
): Promise<{ url: string; server: Server; token: string }> {
  const releases = new Map<string, () => Promise<void>>();
  const secret = randomBytes(24).toString('hex');
  const expected = Buffer.from(`Bearer ${secret}`);
  const server = createServer(async (req, res) => {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value ?? null));
    };
    if (refuseForeign(req, res)) return;
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return reply(401, { error: 'the state server needs its token: Authorization: Bearer <token>' });
    if (req.method !== 'POST') return reply(405, { error: `${req.method} is not allowed here; use POST` });
    const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
    if (type !== 'application/json')
      return reply(415, { error: `the body must be application/json, got ${JSON.stringify(type ?? '')}` });
    try {
      const body = parseJsonBody(await readBody(req, MAX_BODY_BYTES)) as Record<string, unknown>;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return reply(400, { error: 'the body must be a JSON object' });
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
          const reservation = await store.reserve(
            body.selection as Selection,
            body.leaseMs as number | undefined,
            body.place as QueuePlace | undefined,
          );
          if (reservation.kind === 'no-capacity') return reply(200, reservation);
          const token = randomBytes(16).toString('hex');
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
      if (error instanceof BodyError) return reply(error.status, { error: error.message });
      if (error instanceof RangeError) return reply(400, { error: error.message });
      reply(500, { error: (error as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://:${secret}@127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, token: secret };
}
