// A small JSON reader and writer for AssemblyScript, which has none built in: enough
// for a function's arguments and results (objects, arrays, strings with escapes and
// any Unicode, numbers as f64, booleans, null), not a general-purpose library.

import { fail } from './host';

/** What a JSON value is. */
export const enum Kind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** Deeper nesting is refused: arguments are small, and the parser recurses. */
const MAX_DEPTH = 64;

/** One JSON value: `kind` says which of the fields holds it. */
export class Value {
  kind: Kind = Kind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = '';
  /** An array's items. */
  items: Value[] = [];
  /** An object's keys, in the order they came, and their values. */
  keys: string[] = [];
  values: Value[] = [];

  static null(): Value {
    return new Value();
  }

  static boolean(b: bool): Value {
    const v = new Value();
    v.kind = Kind.Bool;
    v.bool = b;
    return v;
  }

  static number(n: f64): Value {
    const v = new Value();
    v.kind = Kind.Number;
    v.num = n;
    return v;
  }

  static string(s: string): Value {
    const v = new Value();
    v.kind = Kind.String;
    v.str = s;
    return v;
  }

  static array(): Value {
    const v = new Value();
    v.kind = Kind.Array;
    return v;
  }

  static object(): Value {
    const v = new Value();
    v.kind = Kind.Object;
    return v;
  }

  isNull(): bool {
    return this.kind == Kind.Null;
  }
  isBool(): bool {
    return this.kind == Kind.Bool;
  }
  isNumber(): bool {
    return this.kind == Kind.Number;
  }
  isString(): bool {
    return this.kind == Kind.String;
  }
  isArray(): bool {
    return this.kind == Kind.Array;
  }
  isObject(): bool {
    return this.kind == Kind.Object;
  }

  /** The kind's name, for messages: "a string", "an array", ... */
  describe(): string {
    switch (this.kind) {
      case Kind.Null:
        return 'null';
      case Kind.Bool:
        return 'a boolean';
      case Kind.Number:
        return 'a number';
      case Kind.String:
        return 'a string';
      case Kind.Array:
        return 'an array';
      default:
        return 'an object';
    }
  }

  /** An object's member (the last one if the key repeats), or null if it has none. */
  get(key: string): Value | null {
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i] == key) return this.values[i];
    return null;
  }

  has(key: string): bool {
    return this.get(key) !== null;
  }

  /** Sets an object's member (replacing one of the same key). Returns this object. */
  set(key: string, value: Value): Value {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) {
        this.values[i] = value;
        return this;
      }
    }
    this.keys.push(key);
    this.values.push(value);
    return this;
  }

  /** Appends to an array. Returns this array. */
  push(value: Value): Value {
    this.items.push(value);
    return this;
  }

  /** An array's item count, or an object's member count. */
  get length(): i32 {
    return this.kind == Kind.Array ? this.items.length : this.keys.length;
  }

  at(index: i32): Value {
    return this.items[index];
  }

  /** The member `key`, which must be there and be a string; otherwise the call fails naming it. */
  requireString(key: string): string {
    return this.require(key, Kind.String, 'a string').str;
  }

  requireNumber(key: string): f64 {
    return this.require(key, Kind.Number, 'a number').num;
  }

  requireBool(key: string): bool {
    return this.require(key, Kind.Bool, 'a boolean').bool;
  }

  requireArray(key: string): Value {
    return this.require(key, Kind.Array, 'an array');
  }

  requireObject(key: string): Value {
    return this.require(key, Kind.Object, 'an object');
  }

  private require(key: string, kind: Kind, what: string): Value {
    const value = this.get(key);
    if (value === null) {
      fail('"' + key + '" is required (' + what + ')');
      return Value.null();
    }
    if (value.kind != kind) fail('"' + key + '" must be ' + what + ', got ' + value.describe());
    return value;
  }
}

/** Reads and writes JSON text. */
export class JSON {
  /** The message of the last `tryParse` that answered null. */
  static error: string = '';

  /** The value in `text`, or null (and `JSON.error` says why and where). */
  static tryParse(text: string): Value | null {
    const parser = new Parser(text);
    const value = parser.parseValue(0);
    if (value === null) {
      JSON.error = parser.error;
      return null;
    }
    parser.skipSpace();
    if (parser.pos < text.length) {
      JSON.error =
        'unexpected ' + describeChar(parser.peek()) + ' after the JSON value at position ' + parser.pos.toString();
      return null;
    }
    return value;
  }

  /** The value in `text`; if it is not JSON, the call fails with the reason. */
  static parse(text: string): Value {
    const value = JSON.tryParse(text);
    if (value === null) {
      fail('invalid JSON: ' + JSON.error);
      return Value.null();
    }
    return value;
  }

  static stringify(value: Value): string {
    const writer = new JSONWriter();
    writer.value(value);
    return writer.toString();
  }

  /** `s` as a JSON string literal, quotes included. */
  static quote(s: string): string {
    const parts = new Array<string>();
    quoteInto(parts, s);
    return parts.join('');
  }
}

/**
 * Writes JSON text piece by piece, with the commas put in for you:
 *
 *     const w = new JSONWriter();
 *     w.beginObject();
 *     w.key('count');
 *     w.number(3);
 *     w.endObject();
 *     output(w.toString()); // {"count":3}
 */
export class JSONWriter {
  private parts: string[] = [];
  /** Per open array or object: whether the next value needs a comma before it. */
  private needComma: bool[] = [false];
  private afterKey: bool = false;

  beginObject(): JSONWriter {
    this.beforeValue();
    this.parts.push('{');
    this.needComma.push(false);
    return this;
  }

  endObject(): JSONWriter {
    this.needComma.pop();
    this.parts.push('}');
    return this;
  }

  beginArray(): JSONWriter {
    this.beforeValue();
    this.parts.push('[');
    this.needComma.push(false);
    return this;
  }

  endArray(): JSONWriter {
    this.needComma.pop();
    this.parts.push(']');
    return this;
  }

  /** An object member's key; its value comes next. */
  key(name: string): JSONWriter {
    this.beforeValue();
    quoteInto(this.parts, name);
    this.parts.push(':');
    this.afterKey = true;
    return this;
  }

  string(s: string): JSONWriter {
    this.beforeValue();
    quoteInto(this.parts, s);
    return this;
  }

  /** A number; integers print without a fraction, and NaN and the infinities as null (JSON has neither). */
  number(n: f64): JSONWriter {
    this.beforeValue();
    this.parts.push(formatNumber(n));
    return this;
  }

  boolean(b: bool): JSONWriter {
    this.beforeValue();
    this.parts.push(b ? 'true' : 'false');
    return this;
  }

  null(): JSONWriter {
    this.beforeValue();
    this.parts.push('null');
    return this;
  }

  /** A whole value, however nested. */
  value(v: Value): JSONWriter {
    switch (v.kind) {
      case Kind.Null:
        return this.null();
      case Kind.Bool:
        return this.boolean(v.bool);
      case Kind.Number:
        return this.number(v.num);
      case Kind.String:
        return this.string(v.str);
      case Kind.Array:
        this.beginArray();
        for (let i = 0; i < v.items.length; i++) this.value(v.items[i]);
        return this.endArray();
      default:
        this.beginObject();
        for (let i = 0; i < v.keys.length; i++) {
          this.key(v.keys[i]);
          this.value(v.values[i]);
        }
        return this.endObject();
    }
  }

  toString(): string {
    return this.parts.join('');
  }

  private beforeValue(): void {
    if (this.afterKey) {
      this.afterKey = false;
      return;
    }
    const top = this.needComma.length - 1;
    if (this.needComma[top]) this.parts.push(',');
    this.needComma[top] = true;
  }
}

function formatNumber(n: f64): string {
  if (!isFinite(n)) return 'null';
  // Whole numbers that f64 holds exactly print as integers ("3", not "3.0").
  if (n == Math.floor(n) && Math.abs(n) < 9007199254740992.0) return (<i64>n).toString();
  return n.toString();
}

function hex4(code: i32): string {
  const digits = '0123456789abcdef';
  let s = '\\u';
  for (let shift = 12; shift >= 0; shift -= 4) s += digits.charAt((code >> shift) & 0xf);
  return s;
}

/** Appends `s` quoted: `"` and `\` and control characters escaped, a lone surrogate as \uXXXX. */
function quoteInto(parts: string[], s: string): void {
  parts.push('"');
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let escaped: string | null = null;
    if (c == 0x22) escaped = '\\"';
    else if (c == 0x5c) escaped = '\\\\';
    else if (c < 0x20) {
      if (c == 0x0a) escaped = '\\n';
      else if (c == 0x0d) escaped = '\\r';
      else if (c == 0x09) escaped = '\\t';
      else if (c == 0x08) escaped = '\\b';
      else if (c == 0x0c) escaped = '\\f';
      else escaped = hex4(c);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A pair (high then low) passes as it is; a lone half would not be UTF-8.
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      escaped = hex4(c);
    }
    if (escaped !== null) {
      if (i > start) parts.push(s.substring(start, i));
      parts.push(escaped);
      start = i + 1;
    }
  }
  if (n > start) parts.push(start == 0 ? s : s.substring(start, n));
  parts.push('"');
}

function describeChar(c: i32): string {
  if (c < 0) return 'end of input';
  if (c < 0x20) return 'character ' + hex4(c);
  return "'" + String.fromCharCode(c) + "'";
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

class Parser {
  text: string;
  pos: i32 = 0;
  error: string = '';

  constructor(text: string) {
    this.text = text;
  }

  /** The character at the position, or -1 at the end. */
  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  private refuse(what: string): Value | null {
    if (this.error.length == 0) this.error = what + ' at position ' + this.pos.toString();
    return null;
  }

  private unexpected(): Value | null {
    return this.refuse('unexpected ' + describeChar(this.peek()));
  }

  parseValue(depth: i32): Value | null {
    this.skipSpace();
    const c = this.peek();
    if (c == 0x7b) return this.parseObject(depth + 1);
    if (c == 0x5b) return this.parseArray(depth + 1);
    if (c == 0x22) {
      const s = this.parseString();
      return s === null ? null : Value.string(s);
    }
    if (c == 0x74) return this.literal('true') ? Value.boolean(true) : null;
    if (c == 0x66) return this.literal('false') ? Value.boolean(false) : null;
    if (c == 0x6e) return this.literal('null') ? Value.null() : null;
    if (c == 0x2d || isDigit(c)) return this.parseNumber();
    return this.unexpected();
  }

  private literal(word: string): bool {
    if (this.text.substring(this.pos, this.pos + word.length) != word) {
      this.refuse('unexpected ' + describeChar(this.peek()));
      return false;
    }
    this.pos += word.length;
    return true;
  }

  private parseNumber(): Value | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) this.pos++;
    else if (isDigit(this.peek())) while (isDigit(this.peek())) this.pos++;
    else return this.refuse('a number needs a digit');
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) return this.refuse('a number needs a digit after its point');
      while (isDigit(this.peek())) this.pos++;
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (!isDigit(this.peek())) return this.refuse('a number needs a digit in its exponent');
      while (isDigit(this.peek())) this.pos++;
    }
    return Value.number(parseFloat(this.text.substring(start, this.pos)));
  }

  /** A string literal (at its opening quote) without its quotes, escapes resolved; null if malformed. */
  parseString(): string | null {
    this.pos++; // the opening quote
    const parts = new Array<string>();
    let start = this.pos;
    while (true) {
      const c = this.peek();
      if (c < 0) {
        this.refuse('unterminated string');
        return null;
      }
      if (c == 0x22) break;
      if (c < 0x20) {
        this.refuse('a control character ' + hex4(c) + ' in a string (escape it)');
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      if (this.pos > start) parts.push(this.text.substring(start, this.pos));
      this.pos++; // the backslash
      const e = this.peek();
      if (e == 0x22) parts.push('"');
      else if (e == 0x5c) parts.push('\\');
      else if (e == 0x2f) parts.push('/');
      else if (e == 0x62) parts.push('\b');
      else if (e == 0x66) parts.push('\f');
      else if (e == 0x6e) parts.push('\n');
      else if (e == 0x72) parts.push('\r');
      else if (e == 0x74) parts.push('\t');
      else if (e == 0x75) {
        let code = 0;
        for (let i = 1; i <= 4; i++) {
          const digit = this.pos + i < this.text.length ? hexValue(this.text.charCodeAt(this.pos + i)) : -1;
          if (digit < 0) {
            this.refuse('\\u needs four hexadecimal digits');
            return null;
          }
          code = (code << 4) | digit;
        }
        // Each \uXXXX is one UTF-16 unit: a surrogate pair written as two escapes joins up.
        parts.push(String.fromCharCode(code));
        this.pos += 4;
      } else {
        this.refuse('unknown escape \\' + (e < 0 ? '' : String.fromCharCode(e)));
        return null;
      }
      this.pos++;
      start = this.pos;
    }
    if (this.pos > start) parts.push(this.text.substring(start, this.pos));
    this.pos++; // the closing quote
    return parts.join('');
  }

  private parseArray(depth: i32): Value | null {
    if (depth > MAX_DEPTH) return this.refuse('nested deeper than ' + MAX_DEPTH.toString() + ' levels');
    this.pos++; // [
    const array = Value.array();
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      return array;
    }
    while (true) {
      const item = this.parseValue(depth);
      if (item === null) return null;
      array.push(item);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return array;
      if (c != 0x2c) {
        this.pos--;
        return this.refuse('expected , or ] but found ' + describeChar(c));
      }
    }
  }

  private parseObject(depth: i32): Value | null {
    if (depth > MAX_DEPTH) return this.refuse('nested deeper than ' + MAX_DEPTH.toString() + ' levels');
    this.pos++; // {
    const object = Value.object();
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      return object;
    }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.refuse('expected a key (a string) but found ' + describeChar(this.peek()));
      const key = this.parseString();
      if (key === null) return null;
      this.skipSpace();
      if (this.peek() != 0x3a) return this.refuse('expected : but found ' + describeChar(this.peek()));
      this.pos++;
      const value = this.parseValue(depth);
      if (value === null) return null;
      object.set(key, value);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return object;
      if (c != 0x2c) {
        this.pos--;
        return this.refuse('expected , or } but found ' + describeChar(c));
      }
    }
  }
}
