/**
 * One dispatcher process for the multi-process tests: it takes a snapshot of the live
 * nodes, prints "ready", waits for a line on stdin, then makes `decisions` decisions
 * with `lanes` of them in flight at once, each held for up to `holdMs` and released.
 * It prints one JSON line: how often each node was chosen, the highest in-flight count
 * Redis answered per node, and how many times there was no capacity.
 *
 * Usage: node --import tsx decision-worker.ts URL KEY_PREFIX STRATEGY DECISIONS LANES HOLD_MS
 */
import { once } from 'node:events';
import { invocationStrategy, seededRandom } from '@strata/policy-engine';
import { RedisStateStore } from '../../common/state';

async function main(): Promise<void> {
  const [url, keyPrefix, strategyName, decisions, lanes, holdMs] = process.argv.slice(2);
  const store = await RedisStateStore.connect({ url, keyPrefix });
  const strategy = invocationStrategy(strategyName);
  const nodes = await store.liveNodes();
  const random = seededRandom(process.pid);
  const chosen: Record<string, number> = {};
  const maxInFlight: Record<string, number> = {};
  let noCapacity = 0;
  let left = Number(decisions);

  process.stdout.write('ready\n');
  await once(process.stdin, 'data');

  const lane = async (): Promise<void> => {
    while (left > 0) {
      left--;
      for (;;) {
        const selection = strategy(
          nodes,
          { functionName: 'wordcount', hops: 0 },
          { now: Date.now(), random, heartbeatTtlMs: 60_000 },
        );
        if (selection.kind === 'no-capacity') throw new Error(`the strategy found no node: ${selection.reason}`);
        const reservation = await store.reserve(selection);
        if (reservation.kind === 'no-capacity') {
          noCapacity++;
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        chosen[reservation.nodeId] = (chosen[reservation.nodeId] ?? 0) + 1;
        maxInFlight[reservation.nodeId] = Math.max(maxInFlight[reservation.nodeId] ?? 0, reservation.inFlight);
        if (Number(holdMs) > 0) await new Promise((resolve) => setTimeout(resolve, random() * Number(holdMs)));
        await reservation.release();
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: Number(lanes) }, lane));
  await store.close();
  process.stdout.write(`${JSON.stringify({ chosen, maxInFlight, noCapacity })}\n`);
  process.stdin.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
