import fc from 'fast-check';
import { DataLimitError, functions, type TextPass } from '../../functions';
import { TextFeed } from '../../functions/text';

// Awkward pieces of text: combining marks, scripts segmented by dictionary, emoji
// sequences, regional indicators, format characters, Hangul jamo that compose, cased
// letters with context (final sigma), compatibility forms, and every kind of space.
const PIECES = [
  'a',
  'Z',
  'é',
  'e\u0301',
  '\u0301',
  '\u0308',
  'x\u0323\u0302',
  'don’t',
  "'",
  '’',
  '‘',
  '3',
  '.',
  '14',
  ',',
  ':',
  '_',
  '-',
  '"',
  '(',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\r',
  '\u00a0',
  '\u3000',
  '\u2028',
  '\u0085',
  'ﬁ',
  'ｗ',
  'İ',
  'Σ',
  'ΟΔΟΣ',
  '🇫',
  '🇷',
  '👍',
  '\u200d',
  '❤️',
  '👩\u200d💻',
  '我',
  '爱',
  '北京',
  'ภาษาไทย',
  '\ufeff',
  '\u00ad',
  '\u1100',
  '\u1161',
  '\u11a8',
  '한',
  'Å',
  'Å',
  '😀',
  'کتاب',
  'שָׁלוֹם',
  'a.b',
  '{',
  '}',
  '[',
  '@',
  '#',
  '-',
  '/',
  '~',
  '%',
  '\\',
  '=',
  'ｰ',
  '\u30a2',
];
const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }).map((parts) => parts.join(''));

/** The text's UTF-8 bytes cut at the given points (any byte, so inside characters too). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of points) {
    chunks.push(bytes.subarray(from, at));
    from = at;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** A pass that records the pieces it is given. */
function recorder(): TextPass & { pieces: string[] } {
  const pieces: string[] = [];
  return { pieces, add: (piece) => void pieces.push(piece), end: () => pieces.join('') };
}

function feedAll(
  pass: TextPass,
  chunks: Buffer[],
  options?: { longLineChars?: number; maxUnbrokenChars?: number },
): unknown {
  const feed = new TextFeed(pass, options);
  for (const chunk of chunks) feed.push(chunk);
  return feed.end();
}

describe('TextFeed: an object streamed to a data stage in pieces', () => {
  test('the places it cuts change nothing: normalising and segmenting the pieces gives what the whole text gives', () => {
    const segmenter = new Intl.Segmenter('und', { granularity: 'word' });
    const segments = (s: string) => [...segmenter.segment(s)].map((x) => `${x.segment}${x.isWordLike ? '+' : ''}`);
    fc.assert(
      fc.property(text, (whole) => {
        // Cut at every place the feed may cut, the smallest pieces it could ever give.
        const pieces = whole.split(/(?<=\n)|(?<=[ \t])(?=[!-~])|(?=[!#$%&()*+\-/<=>?@[\\\]^`{|}~])/);
        for (const form of ['NFC', 'NFKC'] as const) {
          expect(pieces.map((p) => p.normalize(form)).join('')).toBe(whole.normalize(form));
          expect(pieces.map((p) => p.normalize(form).toLowerCase()).join('')).toBe(whole.normalize(form).toLowerCase());
          expect(pieces.flatMap((p) => segments(p.normalize(form)))).toEqual(segments(whole.normalize(form)));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('decodes UTF-8 split anywhere between chunks, and cuts only after a line feed, or in a long line after a space before ASCII or before a bracket', () => {
    fc.assert(
      fc.property(
        text,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 40 }),
        (whole, cuts, longLineChars) => {
          const pass = recorder();
          expect(feedAll(pass, chunked(Buffer.from(whole), cuts), { longLineChars })).toBe(
            whole.replace(/^\uFEFF/, ''),
          ); // a leading BOM is not text
          for (const [i, piece] of pass.pieces.slice(1).entries()) {
            const before = pass.pieces[i];
            const afterSpace = /[ \t]$/.test(before) && /^[!-~]/.test(piece);
            const beforeBracket = /^[!#$%&()*+\-/<=>?@[\\\]^`{|}~]/.test(piece);
            expect([before, piece, before.endsWith('\n') || afterSpace || beforeBracket]).toEqual([
              before,
              piece,
              true,
            ]);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('drops a leading byte order mark, turns bytes that are not UTF-8 into U+FFFD, and counts the bytes as they came', () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('ab'),
      Buffer.from([0xff]),
      Buffer.from('c\n'),
    ]);
    const pass = { add: jest.fn(), end: jest.fn((n: number) => n) };
    expect(feedAll(pass, [bytes.subarray(0, 2), bytes.subarray(2)])).toBe(bytes.length);
    expect(pass.add.mock.calls.map(([piece]) => piece).join('')).toBe('ab\uFFFDc\n');
  });

  test('text with nowhere to cut for longer than the limit is refused, naming the limit', () => {
    const chunks = [Buffer.from('x'.repeat(30)), Buffer.from('y'.repeat(30))];
    expect(() => feedAll(recorder(), chunks, { longLineChars: 10, maxUnbrokenChars: 50 })).toThrow(
      new DataLimitError(
        'the object has more than 50 characters without a line break, a space or a bracket; a data stage reads text in pieces that end at one',
      ),
    );
    expect(
      feedAll(recorder(), [Buffer.from('x'.repeat(30)), Buffer.from(` ${'y'.repeat(29)}`)], {
        longLineChars: 10,
        maxUnbrokenChars: 50,
      }),
    ).toHaveLength(60);
  });

  test.each(['wordcount', 'substring'])(
    '%s: the result streamed in random chunks is the result over the whole text',
    (name) => {
      const fn = functions[name];
      const pattern = fc
        .array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 3 })
        .map((parts) => parts.join(''));
      fc.assert(
        fc.property(
          text,
          pattern,
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.integer({ min: 1, max: 40 }),
          (whole, p, cuts, longLineChars) => {
            const args = fn.parse({ key: 'k', pattern: p });
            const bytes = Buffer.from(whole);
            const once = feedAll(fn.dataStage!.begin(args), [bytes]);
            expect(feedAll(fn.dataStage!.begin(args), chunked(bytes, cuts), { longLineChars })).toEqual(once);
          },
        ),
        { numRuns: 1000 },
      );
    },
  );
});
