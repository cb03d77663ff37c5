import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datapointsOf } from '../../../local/dashboard/emf';

// The health script's reading of `ceph status`, given answers a real cluster gives (the
// script runs against a real one-host Ceph in test/local/dashboard-emitters.test.ts).
const SCRIPT = join(__dirname, '..', '..', '..', 'nodes', 'ceph', 'health-metric.sh');

function run(status: string): Record<string, number> {
  const bin = mkdtempSync(join(tmpdir(), 'fake-ceph-'));
  writeFileSync(join(bin, 'ceph'), `#!/bin/sh\ncat <<'JSON'\n${status}\nJSON\n`);
  chmodSync(join(bin, 'ceph'), 0o755);
  const line = execFileSync('bash', [SCRIPT], { env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
  return Object.fromEntries(datapointsOf(line).map((point) => [point.name, point.values[0]]));
}

const pgs = (states: [string, number][], total: number) =>
  JSON.stringify({
    health: { status: 'HEALTH_OK' },
    pgmap: { pgs_by_state: states.map(([state_name, count]) => ({ state_name, count })), num_pgs: total },
  });

test('PGs that are active+clean while scrubbing or trimming count as clean', () => {
  expect(
    run(
      pgs(
        [
          ['active+clean', 120],
          ['active+clean+scrubbing+deep', 5],
          ['active+clean+scrubbing', 2],
          ['active+clean+snaptrim', 1],
        ],
        128,
      ),
    ),
  ).toEqual({ CephHealth: 0, CephPgsNotClean: 0 });
});

test('degraded, peering, remapped or inconsistent PGs do not', () => {
  const status = pgs(
    [
      ['active+clean', 100],
      ['active+undersized+degraded', 20],
      ['peering', 4],
      ['active+remapped+backfilling', 3],
      ['active+clean+inconsistent', 1],
    ],
    128,
  );
  expect(run(status)).toEqual({ CephHealth: 0, CephPgsNotClean: 28 });
});

test('HEALTH_WARN is 1; no answer at all is 2', () => {
  expect(
    run(JSON.stringify({ health: { status: 'HEALTH_WARN' }, pgmap: { pgs_by_state: [], num_pgs: 0 } })).CephHealth,
  ).toBe(1);
  expect(run('').CephHealth).toBe(2);
});
