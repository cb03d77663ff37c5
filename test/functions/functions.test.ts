import { createHash } from 'node:crypto';
import { findFunction, functions, InputError } from '../../functions';
import { RUN_BUDGET_MS } from '../../functions/limits';
import { runStageOver } from '../../functions/text';
import { configFromEnvironment } from '../../lambdas/dispatcher/handler';

const text = 'To be, or not to be: that is the question.\nWhether tis nobler in the mind to suffer\n';

describe('built-in functions', () => {
  test('wordcount counts lines and words, and ranks the most frequent words', () => {
    const fn = functions.wordcount;
    const args = fn.parse({ key: 'corpus/hamlet.txt' });
    expect(fn.dataStage!.objectKey(args)).toBe('corpus/hamlet.txt');
    const staged = runStageOver(fn, args, text);
    expect(fn.finish(args, staged)).toEqual({
      key: 'corpus/hamlet.txt',
      bytes: Buffer.byteLength(text),
      lines: 2,
      words: 18,
      top: [
        ['to', 3],
        ['be', 2],
        ['the', 2],
        ['in', 1],
        ['is', 1],
        ['mind', 1],
        ['nobler', 1],
        ['not', 1],
        ['or', 1],
        ['question', 1],
      ],
    });
  });

  test('substring counts overlapping matches and reports the first offsets', () => {
    const fn = functions.substring;
    const args = fn.parse({ key: 'a.txt', pattern: 'aa' });
    expect(fn.finish(args, runStageOver(fn, args, 'aaaa b aa'))).toEqual({
      key: 'a.txt',
      pattern: 'aa',
      count: 4,
      first: [0, 1, 2, 7],
    });
  });

  test('sha256 hashes the data, then the digest, rounds times', async () => {
    const once = createHash('sha256').update('abc').digest();
    const twice = createHash('sha256').update(once).digest('hex');
    expect(await functions.sha256.finish(functions.sha256.parse({ data: 'abc', rounds: 2 }), undefined)).toEqual({
      rounds: 2,
      hex: twice,
    });
    expect(functions.sha256.parse({ data: 'abc' })).toEqual({ data: 'abc', rounds: 1 });
  });

  test('sleep waits the time asked', async () => {
    const started = Date.now();
    expect(await functions.sleep.finish(functions.sleep.parse({ ms: 50 }), undefined)).toEqual({ sleptMs: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  test.each([
    ['wordcount', [], 'the body must be a JSON object'],
    ['wordcount', {}, 'key must be a string of 1 to 512 characters'],
    [
      'wordcount',
      { key: '../etc/passwd' },
      'key must be a relative object key such as "corpus/hamlet.txt", without empty or ".." parts',
    ],
    [
      'wordcount',
      { key: '/abs' },
      'key must be a relative object key such as "corpus/hamlet.txt", without empty or ".." parts',
    ],
    ['substring', { key: 'a', pattern: '' }, 'pattern must be a string of 1 to 256 characters'],
    ['sha256', { data: 'x', rounds: 0 }, 'rounds must be a whole number from 1 to 1000000'],
    ['sleep', { ms: 'soon' }, 'ms must be a whole number from 0 to 20000'],
    [
      'substring',
      { key: 'a', pattern: 'x\uD800' },
      'pattern must be well-formed Unicode text: it has a lone surrogate',
    ],
  ])('%s rejects %p naming the field', (name, body, message) => {
    expect(() => findFunction(name)!.parse(body)).toThrow(new InputError(message));
  });

  test("no function accepts work that outlasts the dispatcher's wait for the node", () => {
    // The dispatcher waits forwardTimeoutMs for a node; RUN_BUDGET_MS leaves room for slot waits and hops before it.
    const { forwardTimeoutMs } = configFromEnvironment({ STRATA_REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(RUN_BUDGET_MS).toBeLessThanOrEqual(forwardTimeoutMs - 5_000);
    expect(functions.sleep.parse({ ms: RUN_BUDGET_MS })).toEqual({ ms: RUN_BUDGET_MS });
    expect(() => functions.sleep.parse({ ms: RUN_BUDGET_MS + 1 })).toThrow(
      new InputError(`ms must be a whole number from 0 to ${RUN_BUDGET_MS}`),
    );
  });

  test.each([
    ['wordcount', { key: 'corpus/a.txt', extra: [[[1]]] }],
    ['substring', { key: 'a.txt', pattern: 'lo\u0301ve' }],
    ['sha256', { data: '\u0000x', rounds: 3 }],
    ['sleep', { ms: 5 }],
  ])('%s: what it parses is a body it parses to the same (the dispatcher forwards it)', (name, body) => {
    const fn = findFunction(name)!;
    const args = fn.parse(body);
    expect(fn.parse(JSON.parse(JSON.stringify(args)))).toEqual(args);
  });

  test('only registered names are functions', () => {
    expect(findFunction('toString')).toBeUndefined();
    expect(Object.keys(functions)).toEqual(['wordcount', 'substring', 'sha256', 'sleep']);
  });
});
