import { batchSizes, drive, summarizeOutcomes } from '../../bench/drivers';

test('every request counts: a failure at the client timeout, never a missing sample; goodput counts the answered', () => {
  const outcomes = [
    { ms: 100, ok: true },
    { ms: 200, ok: true },
    { ms: 5, ok: false }, // refused at once
    { ms: 30_000, ok: false }, // timed out
  ];
  const summary = summarizeOutcomes(outcomes, 30_000, 2);
  expect(summary).toMatchObject({ completed: 2, errors: 2, throughput: 1, p99Ms: 30_000 });
  expect(summary.medianMs).toBe(30_000); // two of four at the timeout: the median is a failure's
  expect(summary.meanMs).toBeCloseTo((100 + 200 + 30_000 + 30_000) / 4);
});

test('batch sizes: the seed range shrunk by a step and a scale; bad text names the flag', () => {
  expect(batchSizes('1-499:100', 1)).toEqual([1, 101, 201, 301, 401, 499]);
  expect(batchSizes('1-499:100', 0.05)).toEqual([1, 5, 10, 15, 20, 25]);
  expect(batchSizes('1,8,32', 1)).toEqual([1, 8, 32]);
  expect(() => batchSizes('1-x', 1)).toThrow(/--batches/);
  expect(() => batchSizes('1-9', 2)).toThrow(/--batch-scale/);
});

test('the batch driver spreads a batch over one second; the window keeps its threads busy until every request is sent', async () => {
  const sentAt: number[] = [];
  const start = performance.now();
  const batch = await drive(
    async () => {
      sentAt.push(performance.now() - start);
      return { ms: 1, ok: true };
    },
    'batch',
    4,
    0,
    1,
  );
  expect(batch.outcomes).toHaveLength(4);
  expect(batch.outcomes.every((o) => o.batch === 4)).toBe(true);
  expect(sentAt[3]).toBeGreaterThanOrEqual(740); // the 4th at 3/4 of the second
  let inFlight = 0;
  let most = 0;
  const window = await drive(
    async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return { ms: 5, ok: true };
    },
    'window',
    3,
    20,
    1,
  );
  expect(window.outcomes).toHaveLength(20);
  expect(most).toBe(3);
});
