import fc from 'fast-check';
import { functions } from '../../functions';
import { PatternSearch, type SubstringMatches } from '../../functions/substring';
import { runStageOver } from '../../functions/text';

const search = (text: string, pattern: string) =>
  runStageOver(functions.substring, functions.substring.parse({ key: 'k', pattern }), text) as SubstringMatches;

describe('substring: matches NFC-normalised text, offsets in code points', () => {
  test('canonically equivalent spellings match each other: café composed and decomposed, pattern either way', () => {
    const text = 'café cafe\u0301';
    expect(search(text, 'café')).toMatchObject({ count: 2, first: [0, 5] });
    expect(search(text, 'cafe\u0301')).toMatchObject({ count: 2, first: [0, 5] });
  });

  test('a base letter does not match inside an accented one, in either spelling', () => {
    expect(search('café cafe\u0301', 'e')).toMatchObject({ count: 0 });
    expect(search('café cafe\u0301', 'caf')).toMatchObject({ count: 2 });
  });

  test('compatibility forms are not folded: ﬁ is not fi (NFC, not NFKC)', () => {
    expect(search('ﬁne fine', 'fi')).toMatchObject({ count: 1, first: [4] });
  });

  test('offsets count code points, so characters outside the BMP count once', () => {
    expect(search('😀😀x😀 x', 'x')).toMatchObject({ count: 2, first: [2, 5] });
  });

  test('overlapping matches all count; the pattern is answered as it was sent; case counts', () => {
    expect(search('aaaa b aa AA', 'aa')).toEqual({ key: 'k', pattern: 'aa', count: 4, first: [0, 1, 2, 7] });
    expect(search('x', 'cafe\u0301').pattern).toBe('cafe\u0301');
  });

  test('a match across the pieces an object is read in is found once, with its offset', () => {
    const text = `${'ab '.repeat(30_000)}\n😀 love\nlo`;
    const chunks = [
      Buffer.from(text).subarray(0, 90_003),
      Buffer.from(text).subarray(90_003, 90_008),
      Buffer.from(text).subarray(90_008),
    ];
    expect(runStageOver(functions.substring, { key: 'k', pattern: 'ab a' }, chunks)).toMatchObject({
      count: 29_999,
      first: [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
    });
    expect(runStageOver(functions.substring, { key: 'k', pattern: 'love\nlo' }, chunks)).toMatchObject({
      count: 1,
      first: [90_003],
    });
  });

  /** Every overlapping match, by indexOf from each position: the definition, at any cost. */
  const naive = (text: string, pattern: string) => {
    const at: number[] = [];
    for (let i = text.indexOf(pattern); i !== -1; i = text.indexOf(pattern, i + 1)) at.push(i);
    return at;
  };

  test('the linear search finds what indexOf from each position finds, on any text and pattern', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 300 }),
        fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 1, maxLength: 8 }),
        (text, pattern) => {
          const expected = naive(text, pattern);
          const search = new PatternSearch(pattern);
          expect(search.search(text, 10)).toEqual({ count: expected.length, first: expected.slice(0, 10) });
          expect(search.scanned).toBeLessThanOrEqual(2 * text.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  const N = 4_000_000;
  test.each([
    ['every position a match', 'a', 'a'.repeat(256), N - 255],
    ['a match every other position', 'ab', 'ab'.repeat(128), (N - 256) / 2 + 1],
    ['a near miss at every position', 'a', `${'a'.repeat(255)}b`, 0],
    ['a near miss in the middle', 'a', `${'a'.repeat(127)}b${'a'.repeat(128)}`, 0],
    ['periodic near misses', 'abcd', `${'abc'.repeat(85)}d`, 0],
  ])(
    'a hostile object (%s, 4 M characters, a 256-character pattern): the search looks at each character at most twice',
    (_, unit, pattern, expected) => {
      const text = unit.repeat(N / unit.length);
      const search = new PatternSearch(pattern);
      const { count } = search.search(text, 10);
      expect(count).toBe(expected);
      expect(search.scanned).toBeLessThanOrEqual(2 * text.length);
      // The stage itself answers the same, over the object read in pieces.
      expect(runStageOver(functions.substring, { key: 'k', pattern }, `${text}\n`)).toMatchObject({ count });
    },
  );
});
