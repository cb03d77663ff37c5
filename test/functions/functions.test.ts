import { createHash } from 'node:crypto';
import { findFunction, functions, InputError } from '../../functions';

const text = 'To be, or not to be: that is the question.\nWhether tis nobler in the mind to suffer\n';

describe('built-in functions', () => {
  test('wordcount counts lines and words, and ranks the most frequent words', () => {
    const fn = functions.wordcount;
    const args = fn.parse({ key: 'corpus/hamlet.txt' });
    expect(fn.dataStage!.objectKey(args)).toBe('corpus/hamlet.txt');
    const staged = fn.dataStage!.run(text, args);
    expect(fn.finish(args, staged)).toEqual({
      key: 'corpus/hamlet.txt',
      bytes: Buffer.byteLength(text),
      lines: 2,
      words: 18,
      top: [['to', 3], ['be', 2], ['the', 2], ['in', 1], ['is', 1], ['mind', 1], ['nobler', 1], ['not', 1], ['or', 1], ['question', 1]],
    });
  });

  test('substring counts overlapping matches and reports the first offsets', () => {
    const fn = functions.substring;
    const args = fn.parse({ key: 'a.txt', pattern: 'aa' });
    expect(fn.finish(args, fn.dataStage!.run('aaaa b aa', args))).toEqual({ key: 'a.txt', pattern: 'aa', count: 4, first: [0, 1, 2, 7] });
  });

  test('sha256 hashes the data, then the digest, rounds times', async () => {
    const once = createHash('sha256').update('abc').digest();
    const twice = createHash('sha256').update(once).digest('hex');
    expect(await functions.sha256.finish(functions.sha256.parse({ data: 'abc', rounds: 2 }), undefined)).toEqual({ rounds: 2, hex: twice });
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
    ['wordcount', { key: '../etc/passwd' }, 'key must be a relative object key such as "corpus/hamlet.txt", without empty or ".." parts'],
    ['wordcount', { key: '/abs' }, 'key must be a relative object key such as "corpus/hamlet.txt", without empty or ".." parts'],
    ['substring', { key: 'a', pattern: '' }, 'pattern must be a string of 1 to 256 characters'],
    ['sha256', { data: 'x', rounds: 0 }, 'rounds must be a whole number from 1 to 1000000'],
    ['sleep', { ms: 'soon' }, 'ms must be a whole number from 0 to 60000'],
  ])('%s rejects %p naming the field', (name, body, message) => {
    expect(() => findFunction(name)!.parse(body)).toThrow(new InputError(message));
  });

  test('only registered names are functions', () => {
    expect(findFunction('toString')).toBeUndefined();
    expect(Object.keys(functions)).toEqual(['wordcount', 'substring', 'sha256', 'sleep']);
  });
});
