import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// `npm start`'s node processes end with their launcher, however it ends: each has an IPC
// channel to it (local/cluster.ts), which closes when the launcher's process does.
const ROOT = join(__dirname, '..', '..');

/** `npm start` (without npm and tsx's own wrapper process), once it serves after its demo. */
async function launch(): Promise<{ launcher: ChildProcess; nodes: number[] }> {
  const launcher = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'bin/start.ts'),
      '--port',
      '0',
      '--dashboard-port',
      '0',
      '--work-dir',
      mkdtempSync(join(tmpdir(), 'strata-launcher-')),
      '--requests',
      '4',
      '--concurrency',
      '2',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: launcher.stdout! }).on('line', (line) => {
      if (line.startsWith('serving;')) resolve();
    });
    launcher.once('exit', (code) => reject(new Error(`npm start exited with ${code} before it served`)));
  });
  const children = spawnSync('pgrep', ['-P', String(launcher.pid), '-f', 'nodes/(compute|storage)/main[.]ts'], {
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  return { launcher, nodes: children };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pids: number[]): Promise<void> {
  while (pids.some(alive)) await new Promise((resolve) => setTimeout(resolve, 100));
}

test('SIGKILL of the launcher: its 4 node processes (3 compute, 1 storage) end too', async () => {
  const { launcher, nodes } = await launch();
  try {
    expect(nodes).toHaveLength(4);
    launcher.kill('SIGKILL');
    await gone(nodes); // bounded by the test's timeout: without the channel they live on
    expect(nodes.filter(alive)).toEqual([]);
  } finally {
    for (const pid of [launcher.pid!, ...nodes].filter(alive)) process.kill(pid, 'SIGKILL');
  }
}, 120_000);
