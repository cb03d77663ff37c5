import fc from 'fast-check';
import { DataLimitError, functions } from '../../functions';
import { runStageOver, TextFeed } from '../../functions/text';
import {
  MAX_DISTINCT_WORDS,
  MAX_SEGMENTER_CHARS,
  type WordCount,
  WordCountPass,
  type WordSegmenter,
} from '../../functions/wordcount';

const count = (text: string | Buffer[]) => runStageOver(functions.wordcount, { key: 'k' }, text) as WordCount;
const words = (text: string) =>
  count(text)
    .top.filter(([word]) => word !== '')
    .map(([word, n]) => [word, n]);

/** What the word count is defined as: Intl.Segmenter's word-like segments of the text as written, in one call, each NFKC-normalised and lower-cased. */
function reference(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { segment, isWordLike } of segmenter.segment(text)) {
    const word = segment
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[\u2018\u2019]/g, "'");
    if (isWordLike) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}
const segmenter = new Intl.Segmenter('und', { granularity: 'word' });
const wordsOf = (counts: Map<string, number>) => [...counts.values()].reduce((x, y) => x + y, 0);

/** A sentence in each of fifteen scripts; Thai and Lao have vowel signs that NFKC decomposes (SARA AM, AM). */
const SCRIPTS: Record<string, string> = {
  Latin: 'Größere Straßen führen über die Brücke, naïve café.',
  Greek: 'Η γρήγορη καφέ αλεπού πηδά πάνω από τον σκύλο.',
  Cyrillic: 'Съешь же ещё этих мягких французских булок, да выпей чаю.',
  Arabic: 'نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر.',
  Hebrew: 'דג סקרן שט בים מאוכזב ולפתע מצא חברה.',
  Devanagari: 'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम।',
  Thai: 'ภาษาไทยเป็นภาษาที่มีระดับเสียงของคำแน่นอนหรือวรรณยุกต์เช่นเดียวกับภาษาจีน น้ำตาลทำให้หวาน',
  Lao: 'ພາສາລາວເປັນພາສາທີ່ມີສຽງວັນນະຍຸດ ຄຳເວົ້າ',
  Khmer: 'ភាសាខ្មែរគឺជាភាសាកំណើតរបស់ជនជាតិខ្មែរ ដែលជាភាសាផ្លូវការ',
  Myanmar: 'မြန်မာဘာသာစကားသည် မြန်မာနိုင်ငံ၏ ရုံးသုံးဘာသာစကား ဖြစ်သည်။',
  Chinese: '我爱北京天安门，天安门上太阳升。今天天气很好，我们去公园散步吧。',
  Japanese: '日本語の文章は単語の間に空白を入れずに書きます。カタカナとひらがなも混ざる。',
  Korean: '한국어는 띄어쓰기를 사용합니다. 다람쥐 헌 쳇바퀴에 타고파.',
  Tamil: 'யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம்.',
  Georgian: 'ქართული ენა ქართველური ენების ოჯახს მიეკუთვნება.',
};

/** A word segmenter that records the length of each text it is given. */
function recording(): WordSegmenter & { readonly lengths: number[] } {
  const lengths: number[] = [];
  return {
    lengths,
    segment: (text) => {
      lengths.push(text.length);
      return segmenter.segment(text);
    },
  };
}
const countWith = (seg: WordSegmenter, text: string) => {
  const feed = new TextFeed(new WordCountPass('k', seg));
  feed.push(Buffer.from(text));
  return feed.end() as WordCount;
};

describe('wordcount: Unicode word segmentation of the text as written', () => {
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

  test('compatibility forms count as the word they spell (each word NFKC-normalised): ligatures, full-width letters', () => {
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

  test.each(Object.entries(SCRIPTS))(
    "%s: the count is the segmenter's on the text as written, not on its NFKC form",
    (_, text) => {
      const written = reference(text);
      expect(count(text).words).toBe(wordsOf(written));
      // Ten times over in one line, and again with no space at all: tokens longer than a segmenter window.
      const line = Array.from({ length: 10 }, () => text).join(' ');
      expect(count(line).words).toBe(wordsOf(reference(line)));
      const long = text.replace(/ /g, '').repeat(Math.ceil((3 * MAX_SEGMENTER_CHARS) / text.length));
      expect(count(long).words).toBe(wordsOf(reference(long)));
    },
  );

  test('NFKC would change the count in Thai and Lao: the case above is not vacuous', () => {
    const nfkc = (text: string) => wordsOf(reference(text.normalize('NFKC')));
    expect(nfkc(SCRIPTS.Thai)).not.toBe(wordsOf(reference(SCRIPTS.Thai)));
    expect(nfkc(SCRIPTS.Lao)).not.toBe(wordsOf(reference(SCRIPTS.Lao)));
  });

  test(`a hostile object, 200 K characters of Chinese with no break (64 s in one piece): the segmenter is given at most ${MAX_SEGMENTER_CHARS} characters at a time, about twice the text in all`, () => {
    const text = SCRIPTS.Chinese.replace(/[，。]/g, '')
      .repeat(Math.ceil(200_000 / 28))
      .slice(0, 200_000);
    const seg = recording();
    const result = countWith(seg, text);
    expect(Math.max(...seg.lengths)).toBeLessThanOrEqual(MAX_SEGMENTER_CHARS);
    expect(seg.lengths.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(2 * text.length + MAX_SEGMENTER_CHARS);
    // The windows do not change the count: a 40 K prefix, still cheap to segment whole, counts the same.
    const prefix = text.slice(0, 40_000);
    expect(count(prefix).words).toBe(wordsOf(reference(prefix)));
    expect(result.words).toBeGreaterThan(text.length / 3);
  });

  test('one word longer than a window (200 K letters é) is given to the segmenter in windows and still counts once', () => {
    const word = 'é'.repeat(200_000);
    const seg = recording();
    expect(countWith(seg, `x ${word} y`)).toMatchObject({
      words: 3,
      top: [
        ['x', 1],
        ['y', 1],
        [word, 1],
      ],
    });
    expect(Math.max(...seg.lengths)).toBeLessThanOrEqual(MAX_SEGMENTER_CHARS);
    expect(seg.lengths.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(2 * word.length + MAX_SEGMENTER_CHARS);
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
