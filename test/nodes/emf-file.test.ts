import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStateStore } from '../../common/state';
import { serveStateStore } from '../../local/shared-state';
import { corpusFolder } from '../support/cluster';

// The first-boot race on a storage node: the Ceph health timer (root) created metrics.emf
// before the storage agent (user strata) wrote to it. Here the file is root's and the
// agent runs as another user (nobody), so appending fails with EACCES as it did there.
const ROOT = join(__dirname, '..', '..');

test('a storage agent that cannot append to a root-owned metrics file still starts, serves and heartbeats, and says why on stderr', async () => {
  expect(process.getuid?.()).toBe(0); // the tests run as root (CI does): it takes root to make the file root's and run as nobody
  const folder = mkdtempSync(join(tmpdir(), 'strata-emf-'));
  chmodSync(folder, 0o755);
  const emf = join(folder, 'metrics.emf');
  writeFileSync(emf, '', { mode: 0o644 });
  const objects = await corpusFolder();
  chmodSync(objects, 0o755);
  const store = new MemoryStateStore();
  const state = await serveStateStore(store);
  const child = spawn(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'nodes/storage/main.ts'),
      '--id',
      's1',
      '--state',
      state.url,
      '--objects',
      objects,
      '--emf-file',
      emf,
      '--heartbeat-ms',
      '200',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const first = await new Promise<string>((resolve) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => resolve(`exited ${code}`));
    });
    expect(first).toMatch(/^ready 127\.0\.0\.1:\d+$/);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(child.exitCode).toBeNull();
    expect((await store.liveNodes()).map((node) => node.id)).toEqual(['s1']);
    expect(stderr).toContain('metrics agent: cannot write EMF records (EACCES');
    expect(stderr.split('cannot write EMF records').length - 1).toBe(1); // said once, not every second
  } finally {
    child.kill('SIGKILL');
    state.server.close();
  }
});
