import { functions } from '../../functions';
import type { SubstringMatches } from '../../functions/substring';
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
});
