import { BodyError, bodyText, MAX_JSON_DEPTH, parseJsonBody } from '../../../common/http/json';

const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe('request bodies', () => {
  test(`JSON nested ${MAX_JSON_DEPTH} deep parses; one level more is a 400 naming the limit`, () => {
    expect(parseJsonBody(Buffer.from(nested(MAX_JSON_DEPTH)))).toHaveLength(1);
    expect(() => parseJsonBody(Buffer.from(nested(MAX_JSON_DEPTH + 1)))).toThrow(
      new BodyError(400, 'the body nests arrays and objects deeper than 64 levels, the limit'),
    );
  });

  test('brackets inside strings, escaped quotes among them, do not count as nesting', () => {
    const text = JSON.stringify({ s: `\\"${'['.repeat(1000)}`, t: '"{{{' });
    expect(parseJsonBody(Buffer.from(text))).toEqual(JSON.parse(text));
  });

  test.each([
    [[0xff, 0xfe, 0x7b, 0x00], 415, 'the body is UTF-16LE (it starts with that byte order mark); send it as UTF-8'],
    [[0xfe, 0xff, 0x00, 0x7b], 415, 'the body is UTF-16BE (it starts with that byte order mark); send it as UTF-8'],
    [[0xff, 0xfe, 0x00, 0x00], 415, 'the body is UTF-32LE (it starts with that byte order mark); send it as UTF-8'],
    [[0x22, 0xc3, 0x28, 0x22], 400, 'the body is not valid UTF-8'],
    [[0x22, 0xed, 0xa0, 0x80, 0x22], 400, 'the body is not valid UTF-8'], // an encoded surrogate
  ])('%p is refused with %d, saying why', (bytes, status, message) => {
    expect(() => bodyText(Buffer.from(bytes))).toThrow(new BodyError(status as 400 | 415, message));
  });

  test("a UTF-8 byte order mark is dropped; JSON that does not parse is a 400 with the parser's reason", () => {
    expect(parseJsonBody(Buffer.from('\uFEFF{"a":1}'))).toEqual({ a: 1 });
    expect(() => parseJsonBody(Buffer.from('{"a":'))).toThrow(/^the body is not valid JSON: /);
  });
});
