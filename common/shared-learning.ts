import { createHash } from 'node:crypto';
import type { SharedLearning } from '@strata/policy-engine';
import type { LuaScript } from './state/redis-scripts';

/** The state store's keys of what learning strategies learn (beside the fleet's). */
export const LEARNING_KEY_PREFIX = '{strata}:learning:';

/** How long what was learned outlives its last sync: a day without a dispatcher running it. */
const KEEP_MS = 24 * 3600_000;

/**
 * KEYS: the state, the counters. ARGV: keep-ms, then counter name and amount pairs to
 * add. Adds them (atomic: no dispatcher's measurement is lost) and answers the state and
 * every counter. Run with EVALSHA, as the state store's scripts are (common/state/access.ts).
 */
export const ADD_AND_READ = learningScript(
  'learning-add-and-read',
  `
for i = 2, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) ~= 0 then redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return {redis.call('GET', KEYS[1]), redis.call('HGETALL', KEYS[2])}`,
);

/**
 * KEYS: the state, the counters. ARGV: keep-ms, the state read ('' for none), the next
 * state, then counter name and amount pairs it used. Stores the next state only if the
 * state is still the one read (another dispatcher did not roll it meanwhile), and takes
 * what it used from the counters (what was added since stays).
 */
export const ROLL = learningScript(
  'learning-roll',
  `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[1])
for i = 4, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) ~= 0 then redis.call('HINCRBY', KEYS[2], ARGV[i], -tonumber(ARGV[i + 1])) end
end
return 1`,
);

function learningScript(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** An EVALSHA of one of the scripts above over its two keys; loaded first if the server does not have it. */
async function run(
  command: (args: readonly string[]) => Promise<unknown>,
  script: LuaScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const call = ['EVALSHA', script.sha, '2', ...keys, ...args];
  try {
    return await command(call);
  } catch (error) {
    if (!/^NOSCRIPT/.test((error as Error).message)) throw error;
    await command(['SCRIPT', 'LOAD', script.source]);
    return command(call);
  }
}

/**
 * Adds what this dispatcher learned to the shared store and runs by the merged result:
 * one script a sync; a second when a window ended (whoever is first rolls the state
 * forward; another that raced it reads again and finds it rolled).
 */
export async function syncLearning(
  command: (args: readonly string[]) => Promise<unknown>,
  learning: SharedLearning,
  now: number,
): Promise<void> {
  // One hash slot for both (the braces), should the store ever be a cluster.
  const keys = [`${LEARNING_KEY_PREFIX}{${learning.key}}`, `${LEARNING_KEY_PREFIX}{${learning.key}}:counters`];
  let adding = Object.entries(learning.take()).flatMap(([name, amount]) => [name, String(amount)]);
  for (let attempt = 0; attempt < 5; attempt++) {
    const [stored, flat] = (await run(command, ADD_AND_READ, keys, [String(KEEP_MS), ...adding])) as [
      string | null,
      string[],
    ];
    adding = []; // added: a retry only reads
    const counters: Record<string, number> = {};
    for (let i = 0; i < flat.length; i += 2) counters[flat[i]] = Number(flat[i + 1]);
    const merged = learning.merge(stored ?? undefined, counters, now);
    if (merged.next === undefined) return learning.adopt(merged.run);
    const used = Object.entries(merged.used).flatMap(([name, amount]) => [name, String(amount)]);
    const rolled = await run(command, ROLL, keys, [String(KEEP_MS), stored ?? '', merged.next, ...used]);
    if (Number(rolled) === 1) return learning.adopt(merged.run);
  }
  throw new Error(`the shared learning ${keys[0]} was rolled by others 5 times over; syncing at the next refresh`);
}

/**
 * Syncs a strategy's learning at most once per `intervalMs` (the dispatcher's refresh),
 * when the strategy in use learns; never throws. A sync that fails (the store away) loses
 * this dispatcher's measurements of that interval, and it runs by what it had meanwhile.
 */
export class LearningSync {
  private syncedAt = -Infinity;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly command: (args: readonly string[]) => Promise<unknown>,
    private readonly learning: () => SharedLearning | undefined,
    private readonly options: { readonly intervalMs: number; readonly log?: (message: string) => void },
  ) {}

  refresh(now = Date.now()): Promise<void> {
    const learning = this.learning();
    if (!learning || this.syncing || now - this.syncedAt < this.options.intervalMs)
      return this.syncing ?? Promise.resolve();
    this.syncedAt = now;
    this.syncing = syncLearning(this.command, learning, now)
      .catch((error: Error) => this.options.log?.(`shared learning: ${error.message}`))
      .finally(() => {
        this.syncing = undefined;
      });
    return this.syncing;
  }
}
