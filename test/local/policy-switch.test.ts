import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStateStore } from '../../common/state';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { serveStateStore } from '../../local/shared-state';
import { FilePolicyStore } from '../../operator/policy-store';
import { call, corpusFolder } from '../support/cluster';
import { runScript } from '../support/processes';

// `strata policy set --local` against the system `npm start` runs: the dispatcher and the
// compute nodes (real processes) follow the setting within a refresh interval, no restart;
// every change is in the history and the audit trail; a rollback is one more version.
const ROOT = join(__dirname, '..', '..');
const env = { PATH: process.env.PATH, HOME: process.env.HOME };
const HEARTBEAT_MS = 250;
const strata = (dir: string, ...args: string[]) =>
  runScript('bin/cli.ts', ['policy', ...args, '--local', '--dir', dir], env);

async function first(store: FilePolicyStore): Promise<void> {
  await store.put(
    {
      version: 1,
      policies: {
        invocation: { name: 'round-robin', options: {} },
        node: { name: 'most-slots', options: {} },
        offload: { name: 'thresholds', options: {} },
      },
      changedBy: 'test',
      changedAt: new Date().toISOString(),
    },
    undefined,
  );
}

describe('switching policies while the system runs', () => {
  let cluster: LocalCluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-policy-'));
    const store = new FilePolicyStore(dir);
    await first(store);
    cluster = await LocalCluster.start({
      computeNodes: 3,
      objects: { folder: await corpusFolder() },
      strategy: 'round-robin',
      heartbeatMs: HEARTBEAT_MS,
      policyFile: store.where,
    });
  }, 60_000);
  afterAll(() => cluster?.stop());

  const nodesOf = async (count: number) => {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      const reply = await call(cluster.url, 'POST', '/invoke/wordcount', { key: CORPUS.small.key });
      expect(reply.status).toBe(200);
      seen.push(String(reply.headers['x-strata-node']));
      placedBy.add(String(reply.headers['x-strata-tier1']).split(':')[0]);
    }
    return seen;
  };
  // The strategy the tier-1 header names: the one in use now, not the first one.
  const placedBy = new Set<string>();

  test('the dispatcher follows a set, then a rollback, within one refresh interval', async () => {
    expect(new Set(await nodesOf(6)).size).toBe(3); // round robin

    const set = await strata(dir, 'set', 'invocation', 'single-entry', '--reason', 'test');
    expect([set.status, set.stderr]).toEqual([0, '']);
    expect(set.stdout).toMatch(/^set: version 2 .* by \S+ at /);
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
    placedBy.clear();
    expect(new Set(await nodesOf(6))).toEqual(new Set(['c1'])); // every invocation to the entry node
    expect(placedBy).toEqual(new Set(['single-entry']));

    const back = await strata(dir, 'rollback');
    expect(back.stdout).toMatch(/^rolled back: version 3 /);
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
    expect(new Set(await nodesOf(6)).size).toBe(3);

    const history = await strata(dir, 'history');
    expect(
      history.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)[0]),
    ).toEqual(['v1', 'v2', 'v3']);
    expect(history.stdout).toContain('invocation=single-entry');
    expect(history.stdout).toContain('(rollback to version 1)');
  }, 60_000);

  test('a name or an option the engine refuses is an error naming it, and nothing is written', async () => {
    const unknown = await strata(dir, 'set', 'invocation', 'fastest');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('Unknown invocation strategy "fastest". Valid names: round-robin');
    const bad = await strata(dir, 'set', 'invocation', 'prequal', '--option', 'probes=0');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('policies.invocation.options.probes must be a whole number from 1 to 64, got 0');
    const tier = await strata(dir, 'set', 'edge', 'prequal');
    expect(tier.stderr).toContain('TIER must be one of invocation, node, offload, got "edge"');
    expect((await new FilePolicyStore(dir).current())?.version).toBe(3);
  }, 60_000);
});

describe('a compute node process', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  test('follows the setting for tiers 2 and 3, with options, and refuses one it cannot run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-policy-'));
    const store = new FilePolicyStore(dir);
    await first(store);
    const state = await serveStateStore(new MemoryStateStore());
    const node = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'nodes/compute/main.ts'),
        ...['--id', 'c1', '--state', state.url, '--objects', await corpusFolder()],
        ...['--heartbeat-ms', String(HEARTBEAT_MS), '--policy-file', store.where],
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(node);
    const lines: string[] = [];
    createInterface({ input: node.stderr! }).on('line', (line) => lines.push(line));
    await new Promise((resolve) => createInterface({ input: node.stdout! }).once('line', resolve));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 100 && !lines.some((line) => line.includes(text)); i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      return lines.find((line) => line.includes(text));
    };
    expect(await waitFor('version 1 applied')).toContain('node most-slots, offload thresholds');

    await strata(dir, 'set', 'node', 'power-of-two', '--option', 'choices=3');
    expect(await waitFor('version 2 applied')).toContain('node power-of-two, offload thresholds');
    await strata(dir, 'set', 'offload', 'thresholds', '--option', 'cpu=0.5');
    expect(await waitFor('version 3 applied')).toContain('offload thresholds');
    // A setting naming a policy this node was not built with: refused, the current policies kept.
    const current = (await store.current())!;
    await store.put(
      { ...current, version: 4, policies: { ...current.policies, node: { name: 'fewest-hops', options: {} } } },
      current,
    );
    expect(await waitFor('version 4 refused')).toContain('Unknown node policy "fewest-hops"');
    state.server.close();
  }, 60_000);
});
