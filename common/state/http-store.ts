import type { NodeView, Selection } from '@strata/policy-engine';
import { forward } from '../http/forward';
import {
  type Membership,
  type NodeReport,
  type QueuePlace,
  type Reservation,
  type Reserved,
  releaseOnce,
  type StateStore,
} from './types';

/** A StateStore in another process of the local cluster, over loopback HTTP: `http://:token@127.0.0.1:port`. */
export class HttpStateStore implements StateStore {
  private readonly address: string;
  private readonly authorization: string;

  constructor(url: string) {
    const parsed = new URL(url);
    this.address = parsed.host;
    this.authorization = `Bearer ${decodeURIComponent(parsed.password)}`;
  }

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    await this.call('/heartbeat', { report, ttlMs });
  }

  async deregister(nodeId: string): Promise<void> {
    await this.call('/deregister', { nodeId });
  }

  liveNodes(): Promise<NodeView[]> {
    return this.call('/nodes', {}) as Promise<NodeView[]>;
  }

  storageNodes(): Promise<NodeView[]> {
    return this.call('/storage-nodes', {}) as Promise<NodeView[]>;
  }

  membership(knownVersion?: number): Promise<Membership> {
    return this.call('/membership', { knownVersion }) as Promise<Membership>;
  }

  async reserve(selection: Selection, leaseMs?: number, place?: QueuePlace): Promise<Reservation> {
    const reply = (await this.call('/reserve', { selection, leaseMs, place })) as Reservation & { token?: string };
    if (reply.kind === 'no-capacity') return reply;
    const { nodeId, address, inFlight, token } = reply as Reserved & { token: string };
    return {
      kind: 'chosen',
      nodeId,
      address,
      inFlight,
      release: releaseOnce(async () => void (await this.call('/release', { token }))),
    };
  }

  async close(): Promise<void> {}

  private async call(path: string, body: unknown): Promise<unknown> {
    const response = await forward({
      address: this.address,
      path,
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', authorization: this.authorization },
      timeoutMs: 5_000,
    });
    const value = JSON.parse(response.body.toString()) as unknown;
    if (response.status !== 200)
      throw new Error(`state store: ${(value as { error?: string })?.error ?? response.status}`);
    return value;
  }
}
