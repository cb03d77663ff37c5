import { existsSync, readFileSync } from 'node:fs';
import { POLICY_KEY, type PolicySetting } from '../common/policy-setting';

/**
 * Warming both tier-3 paths before a benchmark measures: the compute nodes' local path
 * (their S3 read and data stage) and the offload path (the storage agent's stage next
 * to the data). A scenario's own offload policy would warm only the path it takes, and
 * the other then runs cold when it is taken (issue 22: refused offers ran on a local
 * path offloading had left cold). The nodes follow the live policy setting in Redis
 * (`{strata}:policy`, read once a heartbeat), so the warm-up sets offload `never`, then
 * `always`, then the scenario's own, and deletes the setting when the scenario ends so
 * that the next cluster starts on its command line's policies.
 */
export interface WarmUpPolicies {
  readonly strategy: string;
  readonly nodePolicy: string;
  /** The scenario's offload policy and its options (AutoNDP's thresholds for `thresholds`). */
  readonly offloadPolicy: string;
  readonly offloadOptions: Readonly<Record<string, unknown>>;
}

/** The live setting that runs `offload` with the scenario's other policies. */
export function warmUpSetting(version: number, policies: WarmUpPolicies, offload?: string): PolicySetting {
  const own = offload === undefined || offload === policies.offloadPolicy;
  return {
    version,
    policies: {
      invocation: { name: policies.strategy, options: {} },
      node: { name: policies.nodePolicy, options: {} },
      offload: { name: offload ?? policies.offloadPolicy, options: own ? policies.offloadOptions : {} },
    },
    changedBy: 'npm run bench (warm-up)',
    changedAt: new Date().toISOString(),
    reason: own ? "the scenario's own offload policy, for the measurement" : `warm-up through offload ${offload}`,
  };
}

type Command = (args: readonly string[]) => Promise<unknown>;

/**
 * Runs `run` once with offload `never` (every node's local path) and once with `always`
 * (the storage node's stage), then sets the scenario's own policy; each setting is given
 * `settleMs` (a little over a heartbeat) for every node to read it.
 */
export async function warmBothPaths(
  command: Command,
  policies: WarmUpPolicies,
  run: (path: 'local' | 'offload') => Promise<void>,
  settleMs: number,
): Promise<void> {
  const set = async (version: number, offload?: string) => {
    await command(['SET', POLICY_KEY, JSON.stringify(warmUpSetting(version, policies, offload))]);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  };
  await set(1, 'never');
  await run('local');
  await set(2, 'always');
  await run('offload');
  await set(3);
}

/** Removes the live setting, so that a cluster started next follows its command line. */
export async function clearLiveSetting(command: Command): Promise<void> {
  await command(['DEL', POLICY_KEY]);
}

/** One invocation a compute node ran, from its invocation log: the path its data stage took and its service time. */
export interface LoggedInvocation {
  readonly node: string;
  /** `offloaded` when the storage node ran the data stage, else `local`. */
  readonly path: 'local' | 'offloaded';
  readonly ms: number;
}

/** Lines counted so far in each invocation log, to take the next level's lines as a slice. */
export class InvocationLogs {
  private readonly seen = new Map<string, number>();

  constructor(private readonly files: readonly string[]) {
    for (const file of files) this.seen.set(file, lines(file).length);
  }

  /** The invocations logged since the last call (or since this was made). */
  next(): LoggedInvocation[] {
    return this.files.flatMap((file) => {
      const all = lines(file);
      const fresh = all.slice(this.seen.get(file) ?? 0);
      this.seen.set(file, all.length);
      return fresh.map((line) => {
        const record = JSON.parse(line) as { node: string; offload: string; ms: number };
        return {
          node: record.node,
          path: record.offload.startsWith('offloaded') ? ('offloaded' as const) : ('local' as const),
          ms: Math.round(record.ms),
        };
      });
    });
  }
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}
