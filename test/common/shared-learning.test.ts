import { type InvocationStrategy, invocationStrategy } from '@strata/policy-engine';
import { LEARNING_KEY_PREFIX, syncLearning } from '../../common/shared-learning';
import { context, nodes } from '../support/nodes';
import { redisForFile } from '../support/redis';

// The adaptive strategy's learning, kept in a real redis-server: every dispatcher merges
// what it measured into one state there and runs by the merged state.
const redis = redisForFile();
const command = (args: readonly string[]) => redis.store.command(args);
const call = { functionName: 'f', hops: 0 };
let tests = 0;

type Learner = InvocationStrategy & Required<Pick<InvocationStrategy, 'observe' | 'learning'>>;

/** A dispatcher's adaptive strategy; each test has its own key (windowMs differs), so tests do not share. */
const dispatcher = () =>
  invocationStrategy('adaptive', {
    arms: ['least-expected-delay', 'prequal'],
    windowMs: 1000 + tests,
    exploration: 0.05,
  }) as Learner;

const ruleAt = (strategy: Learner, now: number) => {
  const selection = strategy(nodes(3), call, context(1, { now }));
  return selection.kind === 'select' ? selection.rule : 'none';
};

beforeEach(() => {
  tests++;
});

test('two dispatchers that each measure only one arm agree, and settle on the faster one, only when they share', async () => {
  // Dispatcher A hears only of prequal's invocations (50 ms), B only of least-expected-delay's
  // (100 ms): neither alone ever measures both arms.
  const run = async (share: boolean) => {
    const [a, b] = [dispatcher(), dispatcher()];
    const windowMs = 1000 + tests;
    const chosen: [string, string][] = [];
    for (let window = 0; window < 30; window++) {
      const now = window * windowMs + 10;
      const arms: [string, string] = [ruleAt(a, now), ruleAt(b, now)];
      chosen.push(arms);
      for (let i = 0; i < 20; i++) {
        if (arms[0] === 'prequal') a.observe(now, 50, now + 100);
        if (arms[1] === 'least-expected-delay') b.observe(now, 100, now + 100);
      }
      // The end of the window: each syncs (once a refresh).
      if (share) for (const d of [a, b]) await syncLearning(command, d.learning, now + windowMs - 5);
    }
    return chosen;
  };
  const alone = await run(false);
  tests++;
  const shared = await run(true);
  // Alone, A never measures least-expected-delay and keeps trying it; they disagree.
  expect(alone.slice(10).filter(([a, b]) => a !== b).length).toBeGreaterThan(10);
  // Shared: the same arm in every window, and prequal, the faster, in nearly all later ones.
  expect(shared.filter(([a, b]) => a !== b)).toEqual([]);
  expect(shared.slice(10).filter(([a]) => a === 'prequal').length).toBeGreaterThanOrEqual(18);
});

test('dispatchers syncing at once lose no measurement (counters added atomically; one of them rolls the state)', async () => {
  const learners = Array.from({ length: 20 }, () => dispatcher());
  const now = 5000;
  for (const learner of learners) {
    ruleAt(learner, now);
    learner.observe(now, 10, now);
  }
  await Promise.all(learners.map((learner) => syncLearning(command, learner.learning, now)));
  const counters = async () =>
    (await command(['HGETALL', `${LEARNING_KEY_PREFIX}{${learners[0].learning.key}}:counters`])) as string[];
  // Arm 0 ran this window: 20 invocations of 10 ms, in microseconds.
  expect(await counters()).toEqual(['n0', '20', 'us0', '200000']);
  // A sync with nothing new adds nothing; the next window's sync uses them (the state rolls, the counters empty).
  await syncLearning(command, learners[0].learning, now);
  expect(await counters()).toEqual(['n0', '20', 'us0', '200000']);
  await syncLearning(command, learners[1].learning, now + 2000);
  expect(await counters()).toEqual(['n0', '0', 'us0', '0']);
  const state = JSON.parse(String(await command(['GET', `${LEARNING_KEY_PREFIX}{${learners[0].learning.key}}`]))) as {
    counts: number[];
    sums: number[];
  };
  expect(state.counts[0]).toBeGreaterThan(0);
  expect(state.sums[0]).toBeCloseTo(-Math.log(10) * state.counts[0], 6);
});
