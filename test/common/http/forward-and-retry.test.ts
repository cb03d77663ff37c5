import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { type Next, offer, type Passed, type Target } from '../../../common/http/forward-and-retry';
import { REFUSED_HEADER } from '../../../common/http/headers';
import { type OnLoopback, onLoopback } from '../../support/loopback';

/** The protocol between tiers, over real HTTP on loopback: who may be offered the invocation next, and who may not. */
describe('offer (forward and retry)', () => {
  const servers: OnLoopback[] = [];
  afterAll(() => Promise.all(servers.map((server) => server.close())));

  /** A node that answers 200 naming itself, or refuses with `refusal` (a 503 that says nothing ran). */
  async function node(id: string, refusal?: string): Promise<Target> {
    const server = createServer((req, res) => {
      req.resume();
      if (refusal) res.writeHead(503, { [REFUSED_HEADER]: refusal }).end('{}');
      else res.writeHead(200).end(id);
    });
    const started = await onLoopback(server);
    servers.push(started);
    return { id, address: started.address };
  }

  /** A node that takes the request and never answers: it may have run it. */
  async function silent(id: string): Promise<Target> {
    const started = await onLoopback(createTcpServer(() => undefined));
    servers.push(started);
    return { id, address: started.address };
  }

  /** An address nothing listens on: the request is never delivered. */
  async function gone(id: string): Promise<Target> {
    const started = await onLoopback(createServer());
    await started.close();
    return { id, address: started.address };
  }

  /** Offers to `targets` in order; records what each target was told. */
  async function offerTo(targets: Target[], maxAttempts?: number) {
    const passed: [string, Passed][] = [];
    const done: string[] = [];
    const next = async (tried: ReadonlySet<string>): Promise<Next<string>> => {
      const target = targets.find((t) => !tried.has(t.id));
      return target
        ? { kind: 'target', target: { ...target, done: () => void done.push(target.id) } }
        : { kind: 'none', why: 'nobody left' };
    };
    const offered = await offer({
      next,
      maxAttempts,
      request: () => ({ path: '/invoke/sleep', body: '{}', timeoutMs: 300 }),
      onPassed: (id, why) => passed.push([id, why]),
    });
    return { offered, passed, done };
  }

  it('GIVEN a full node, a gone node and a free one WHEN offered THEN the free one answers, on the third attempt', async () => {
    const { offered, passed, done } = await offerTo([await node('a', 'full'), await gone('b'), await node('c')]);
    expect(offered.kind === 'answered' && [offered.node, offered.attempts, offered.response.body.toString()]).toEqual([
      'c',
      3,
      'c',
    ]);
    expect(passed).toEqual([
      ['a', 'full'],
      ['b', 'not-delivered'],
    ]);
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('GIVEN a refusal no Strata node sends WHEN offered THEN it is still a refusal, typed as unrecognised', async () => {
    const { offered, passed } = await offerTo([await node('a', 'busy today')]);
    expect(offered).toEqual({ kind: 'none', why: 'nobody left', tried: ['a'] });
    expect(passed).toEqual([['a', 'unrecognised']]);
  });

  it('GIVEN a node that times out WHEN offered THEN the offer ends there (it may have run it), the next is not tried', async () => {
    const { offered, done } = await offerTo([await silent('a'), await node('b')]);
    expect(offered.kind === 'failed' && [offered.node, offered.error.kind, offered.attempts]).toEqual([
      'a',
      'timeout',
      1,
    ]);
    expect(done).toEqual(['a']);
  });

  it('GIVEN only refusing nodes WHEN maxAttempts is reached THEN the offer is exhausted, naming the nodes tried', async () => {
    const targets = [await node('a', 'draining'), await node('b', 'over-thresholds'), await node('c')];
    const { offered } = await offerTo(targets, 2);
    expect(offered).toEqual({ kind: 'exhausted', tried: ['a', 'b'] });
  });
});
