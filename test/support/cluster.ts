import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ForwardResponse, forward } from '../../common/http/forward';
import { FolderObjectStore } from '../../common/object-store';
import type { StateStore } from '../../common/state';
import { loadCorpus } from '../../local/corpus';

/** A fresh folder of objects holding the sample corpus. */
export async function corpusFolder(): Promise<string> {
  const folder = mkdtempSync(join(tmpdir(), 'strata-objects-'));
  await loadCorpus(new FolderObjectStore(folder));
  return folder;
}

/** One HTTP request to the local API, as a client would send it. */
export function call(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ForwardResponse> {
  return forward({
    address: new URL(baseUrl).host,
    method,
    path,
    body:
      body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    timeoutMs: 60_000,
  });
}

export function json(response: ForwardResponse): Record<string, unknown> {
  return JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
}

/** Waits one heartbeat (so slot use is fresh), then answers each live node as [id, reservations, slots in use]. */
export async function heldAfterHeartbeat(state: StateStore, waitMs = 1_500): Promise<[string, number, number][]> {
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return (await state.liveNodes()).map((n) => [n.id, n.inFlight, n.slotsUsed]);
}
