import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
const scripts = ['nodes/ceph', 'nodes/node-setup', 'local']
  .flatMap((folder) =>
    readdirSync(join(ROOT, folder))
      .filter((name) => name.endsWith('.sh'))
      .map((name) => join(ROOT, folder, name)),
  )
  .concat(join(ROOT, '.ci', 'run'));

test('every shell script of the project is shellcheck-clean', () => {
  const version = spawnSync('shellcheck', ['--version']);
  if (version.error)
    throw new Error('shellcheck is not installed: run `apt-get install -y shellcheck` (.ci/run does this)');
  expect(scripts.length).toBeGreaterThanOrEqual(8);
  const result = spawnSync('shellcheck', ['-x', ...scripts.map((script) => relative(ROOT, script))], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});
