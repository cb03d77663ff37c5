import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request body over the limit; the server answers 413. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body is over the limit of ${limit} bytes`);
  }
}

/** Reads a whole request body, stopping as soon as it passes `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }).end(body);
}

/** 503 that tells the caller nothing ran here, so another node may take it. */
export function refuse(res: ServerResponse, why: 'full' | 'draining' | 'over-thresholds'): void {
  sendJson(res, 503, { error: `the node is ${why === 'over-thresholds' ? 'over its thresholds' : why}` }, { [REFUSED_HEADER]: why, 'retry-after': '1' });
}

/**
 * Header on a 503 that says the node did not run the invocation, so the caller may
 * safely offer it to another node; its value says why (full, draining, over-thresholds).
 */
export const REFUSED_HEADER = 'x-strata-refused';
/** How many times an invocation has been forwarded between nodes. */
export const HOPS_HEADER = 'x-strata-hops';
/** The API request an invocation belongs to, passed along every hop: for logs and for finding duplicates. */
export const REQUEST_ID_HEADER = 'x-strata-request-id';
