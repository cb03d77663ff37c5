import fc from 'fast-check';
import { DataLimitError, functions } from '../../functions';
import { runStageOver } from '../../functions/text';
import { MAX_DISTINCT_WORDS, type WordCount } from '../../functions/wordcount';

const count = (text: string | Buffer[]) => runStageOver(functions.wordcount, { key: 'k' }, text) as WordCount;
const words = (text: string) =>
  count(text)
    .top.filter(([word]) => word !== '')
    .map(([word, n]) => [word, n]);

/** What the word count is defined as: Intl.Segmenter's word-like segments of the NFKC, lower-cased text, in one call. */
function reference(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { segment, isWordLike } of segmenter.segment(text.normalize('NFKC').toLowerCase())) {
    const word = segment.replace(/[\u2018\u2019]/g, "'");
    if (isWordLike) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}
const segmenter = new Intl.Segmenter('und', { granularity: 'word' });

describe('wordcount: Unicode word segmentation over NFKC text', () => {
  test('Node.js has the full ICU word segmenter it needs', () => {
    expect(typeof Intl.Segmenter).toBe('function');
    // Dictionary-based segmentation of Chinese only works with full ICU data.
    expect(
      [...new Intl.Segmenter('und', { granularity: 'word' }).segment('我爱北京天安门')].map((s) => s.segment),
    ).toEqual(['我', '爱', '北京', '天安门']);
  });

  test("a typographic apostrophe keeps a word whole: don’t is one word, the same word as don't", () => {
    expect(count('don’t stop')).toMatchObject({
      words: 2,
      top: [
        ["don't", 1],
        ['stop', 1],
      ],
    });
    expect(count("don’t don't")).toMatchObject({ words: 2, top: [["don't", 2]] });
  });

  test('a combining accent stays in its word: naïve with a combining diaeresis is one word, naïve', () => {
    expect(count('nai\u0308ve')).toMatchObject({ words: 1, top: [['naïve', 1]] });
  });

  test('café counts the same composed and decomposed', () => {
    expect(words('café')).toEqual(words('cafe\u0301'));
    expect(count('café cafe\u0301')).toMatchObject({ words: 2, top: [['café', 2]] });
  });

  test('apostrophes and quotes alone are not words', () => {
    expect(count("' '' ’ ‘’ \"' -- ... ,")).toMatchObject({ words: 0, top: [] });
  });

  test('3.14 is one token, and so is 1,000', () => {
    expect(count('pi is 3.14, about 1,000 times')).toMatchObject({
      words: 6,
      top: [
        ['1,000', 1],
        ['3.14', 1],
        ['about', 1],
        ['is', 1],
        ['pi', 1],
        ['times', 1],
      ],
    });
  });

  test('compatibility forms count as the word they spell (NFKC): ligatures, full-width letters', () => {
    expect(count('ﬁne fine ｆｉｎｅ FINE')).toMatchObject({ words: 4, top: [['fine', 4]] });
  });

  test('words of scripts without spaces are found by dictionary, emoji and punctuation are not words', () => {
    expect(count('我爱北京 👍🏽 🇫🇷 — ภาษาไทย')).toMatchObject({ words: 5 });
  });

  test("lines: line feeds, plus a last line without one; bytes: the object's size", () => {
    expect(count('')).toMatchObject({ lines: 0, words: 0, bytes: 0 });
    expect(count('a\nb')).toMatchObject({ lines: 2, bytes: 3 });
    expect(count('a\nb\n')).toMatchObject({ lines: 2, bytes: 4 });
    expect(count('é\n')).toMatchObject({ lines: 1, bytes: 3 });
  });

  test("ASCII words are the segmenter's: every token of up to three printable ASCII characters, and up to five of one of each kind", () => {
    const differ: string[] = [];
    const check = (token: string) => {
      const text = `x ${token} y`;
      const expected = [...reference(text)].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
      if (JSON.stringify(count(text).top) !== JSON.stringify(expected)) differ.push(token);
    };
    const tokens = (alphabet: string[], length: number): string[] =>
      length === 0 ? [''] : tokens(alphabet, length - 1).flatMap((t) => alphabet.map((c) => t + c));
    const all = [...Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i))];
    for (let length = 1; length <= 3; length++)
      for (const token of tokens(
        all.filter((c) => !/[b-zB-Z1-9]/.test(c)),
        length,
      ))
        check(token);
    // One of each kind: a letter, a digit, `_`, the characters that join (`: . ' , ;`), a quote and one that never joins.
    for (let length = 4; length <= 5; length++)
      for (const token of tokens(['a', '0', '_', ':', '.', "'", ',', '"', '-'], length)) check(token);
    expect(differ).toEqual([]);
  });

  test("any text: the counts are the segmenter's over the whole text", () => {
    const PIECES = [
      'a',
      'Bc',
      '9',
      'é',
      'e\u0301',
      '\u0301',
      'don’t',
      "'",
      '’',
      '.',
      '3.14',
      ',',
      '_',
      '-',
      ' ',
      '\t',
      '\n',
      '\u00a0',
      'ﬁ',
      'Σ',
      'ΟΔΟΣ',
      '👍',
      '\u200d',
      '我',
      '北京',
      'ภาษา',
      '\u00ad',
      '\u1100\u1161',
      'a.b',
      '@',
      '#x',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 50 }), (parts) => {
        const text = parts.join('');
        const result = count(text);
        const expected = reference(text);
        expect(result.words).toBe([...expected.values()].reduce((x, y) => x + y, 0));
        for (const [word, n] of result.top) expect([word, expected.get(word)]).toEqual([word, n]);
      }),
      { numRuns: 3000 },
    );
  });

  test(`more than ${MAX_DISTINCT_WORDS} distinct words is refused, naming the limit`, () => {
    const chunks = Array.from({ length: 64 }, (_, c) =>
      Buffer.from(`${Array.from({ length: MAX_DISTINCT_WORDS / 64 + 1 }, (_, i) => `w${c}x${i}`).join(' ')}\n`),
    );
    expect(() => count(chunks)).toThrow(
      new DataLimitError(
        `the object has more than ${MAX_DISTINCT_WORDS} distinct words; wordcount counts at most that many`,
      ),
    );
  });
});
