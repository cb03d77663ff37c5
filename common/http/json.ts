import type { IncomingMessage, ServerResponse } from 'node:http';
import { REFUSED_HEADER, type Refusal } from './headers';

/** A request body the server will not take; `status` is the 4xx to answer and the message says why. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/**
 * How deep arrays and objects may nest in a JSON body. No function takes more than a flat
 * object; 64 (System.Text.Json's default) leaves room for fields a function ignores, and
 * keeps every recursive walk over the value (JSON.stringify, a structured clone) far
 * from the stack's limit, which ~5,000 levels reach.
 */
export const MAX_JSON_DEPTH = 64;

/** Reads a whole request body, stopping as soon as it passes `limit` bytes (a 413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyError(413, `the body is over the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** UTF-32LE first: its mark starts with UTF-16LE's. */
const OTHER_BYTE_ORDER_MARKS = [
  { encoding: 'UTF-32LE', mark: [0xff, 0xfe, 0, 0] },
  { encoding: 'UTF-32BE', mark: [0, 0, 0xfe, 0xff] },
  { encoding: 'UTF-16LE', mark: [0xff, 0xfe] },
  { encoding: 'UTF-16BE', mark: [0xfe, 0xff] },
];

/**
 * A body's text, which must be UTF-8 (RFC 8259 requires it of JSON): a UTF-8 byte order
 * mark is dropped; UTF-16 or UTF-32 (told by their byte order marks) is a 415, and bytes
 * that are not UTF-8 a 400, rather than text silently changed to U+FFFD.
 */
export function bodyText(bytes: Uint8Array): string {
  const bom = OTHER_BYTE_ORDER_MARKS.find(({ mark }) => mark.every((byte, i) => bytes[i] === byte));
  if (bom)
    throw new BodyError(415, `the body is ${bom.encoding} (it starts with that byte order mark); send it as UTF-8`);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new BodyError(400, 'the body is not valid UTF-8');
  }
}

/**
 * Parses a JSON body: UTF-8 only (see bodyText), nested at most `maxDepth` deep (checked
 * before parsing, so a hostile body costs one pass over its bytes), else a BodyError.
 */
export function parseJsonBody(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): unknown {
  const text = bodyText(bytes);
  if (nestsDeeperThan(text, maxDepth))
    throw new BodyError(400, `the body nests arrays and objects deeper than ${maxDepth} levels, the limit`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BodyError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Whether the brackets of a JSON text, outside its strings, nest deeper than `limit`. */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i++; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) depth--;
  }
  return false;
}

/** A percent-encoded part of a path, decoded; undefined if it is not valid percent-encoded UTF-8. */
export function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers })
    .end(body);
}

/**
 * 503 that tells the caller nothing ran here, so another node may take it. Not for
 * `no-stage`, which a storage node sends on its 404 (a client asking for a stage it does
 * not have is not a server error).
 */
export function refuse(res: ServerResponse, why: Exclude<Refusal, 'no-stage'>): void {
  sendJson(
    res,
    503,
    { error: `the node is ${why === 'over-thresholds' ? 'over its thresholds' : why}` },
    { [REFUSED_HEADER]: why, 'retry-after': '1' },
  );
}
