import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearLiveSetting, InvocationLogs, warmBothPaths, warmUpSetting } from '../../bench/warm-up';
import { POLICY_KEY, parsePolicySetting } from '../../common/policy-setting';

// The bench's warm-up of both tier-3 paths (bench/warm-up.ts): the live settings it writes and the log slices it reads.
const policies = {
  strategy: 'round-robin',
  nodePolicy: 'most-slots',
  offloadPolicy: 'thresholds',
  offloadOptions: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 },
};

test("warms the local path, then the offload path, then sets the scenario's own policy, each a newer version", async () => {
  const events: string[] = [];
  const command = async (args: readonly string[]) => {
    if (args[0] === 'SET') {
      expect(args[1]).toBe(POLICY_KEY);
      // What the nodes parse: a setting they would refuse would leave them on the last one.
      const setting = parsePolicySetting(args[2], ['node', 'offload']);
      events.push(
        `v${setting.version} ${setting.policies.offload.name} ${JSON.stringify(setting.policies.offload.options)}`,
      );
    } else events.push(args.join(' '));
    return 'OK';
  };
  await warmBothPaths(command, policies, async (path) => void events.push(`run ${path}`), 0);
  await clearLiveSetting(command);
  expect(events).toEqual([
    'v1 never {}',
    'run local',
    'v2 always {}',
    'run offload',
    'v3 thresholds {"cpu":0.8,"memory":0.8,"loadPerCore":0.8}',
    `DEL ${POLICY_KEY}`,
  ]);
  expect(warmUpSetting(3, { ...policies, offloadPolicy: 'never', offloadOptions: {} }).policies.offload).toEqual({
    name: 'never',
    options: {},
  });
});

test("each level's invocations are the lines the nodes logged since the last level, with the path their data stage took", () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-warm-up-'));
  const [c1, c2] = [join(dir, 'c1.invocations.jsonl'), join(dir, 'c2.invocations.jsonl')];
  const log = (file: string, node: string, offload: string, ms: number) =>
    appendFileSync(file, `${JSON.stringify({ requestId: 'r', function: 'wordcount', node, hops: 0, offload, ms })}\n`);
  log(c1, 'c1', 'local:offload is off', 900); // the warm-up's, before the slices start
  const logs = new InvocationLogs([c1, c2]); // c2 has logged nothing yet
  log(c1, 'c1', 'offloaded:s1', 410.4);
  log(c2, 'c2', 'local:s1 refused (over-thresholds)', 1500.6);
  expect(logs.next()).toEqual([
    { node: 'c1', path: 'offloaded', ms: 410 },
    { node: 'c2', path: 'local', ms: 1501 },
  ]);
  expect(logs.next()).toEqual([]);
  log(c2, 'c2', 'local:s1 failed (not-delivered)', 700);
  expect(logs.next()).toEqual([{ node: 'c2', path: 'local', ms: 700 }]);
});
