import { isIndexed, type NodeView, type Selection } from '@strata/policy-engine';
import {
  ALL_SCRIPTS,
  DEREGISTER,
  HEARTBEAT,
  LIVE_NODES,
  type LuaScript,
  MEMBERSHIP,
  RELEASE,
  RESERVE,
  STORAGE_NODES,
} from './redis-scripts';
import { RespClient, RespError, type RespValue } from './resp-client';
import {
  checkReport,
  checkTtl,
  DEFAULT_LEASE_MS,
  type FleetMember,
  leaseToken,
  type MemberChange,
  type Membership,
  memberKey,
  memberOf,
  NO_ROOM,
  type NodeReport,
  NUMBER_FIELDS,
  parseMember,
  type Reservation,
  releaseOnce,
  type StateStore,
} from './types';

export interface RedisStateStoreOptions {
  /** `redis://host:port`, or `rediss://user:password@host:port` for ElastiCache with TLS and a user of its own (common/state/access.ts). */
  readonly url: string;
  /**
   * Prefix of every key. It is wrapped in braces so that all keys hash to one slot,
   * which multi-key scripts need on a cluster. @default 'strata'
   */
  readonly keyPrefix?: string;
  /** How long to wait for a connection before a call fails. @default 2000 */
  readonly connectTimeoutMs?: number;
  /** How long a call waits for Redis's answer before it fails and the connection is re-opened. @default 2000 */
  readonly replyTimeoutMs?: number;
  /** Called with connection errors (the client keeps reconnecting). @default they are kept in `lastError` */
  readonly onError?: (error: Error) => void;
  /**
   * The clock that expires heartbeats and leases, in ms. @default Redis's own (`TIME`),
   * one clock for every dispatcher and node; a test passes its own to agree with
   * the in-memory store.
   */
  readonly now?: () => number;
}

/**
 * The state store on Redis or Valkey (ElastiCache on AWS). Every call is one round trip:
 * an EVALSHA of a script loaded once at connect (and again if the server lost it).
 * Calls fail at once while the connection is down instead of queueing, so that a
 * dispatcher can fall back to its last known nodes. Decisions by an IndexedSelection
 * cost O(log n) or O(d) in Redis whatever the fleet's size (docs/policies.md, cost model).
 */
export class RedisStateStore implements StateStore {
  /** The last connection error, for health reports. */
  lastError: Error | undefined;

  private readonly tag: string;

  private constructor(
    private readonly client: RespClient,
    keyPrefix: string,
    private readonly now: (() => number) | undefined,
  ) {
    this.tag = `{${keyPrefix}}`;
  }

  static async connect(options: RedisStateStoreOptions): Promise<RedisStateStore> {
    let store: RedisStateStore | undefined;
    const client = await RespClient.connect({
      url: options.url,
      connectTimeoutMs: options.connectTimeoutMs,
      replyTimeoutMs: options.replyTimeoutMs,
      onError: (error) => {
        if (store) store.lastError = error;
        options.onError?.(error);
      },
      // A server that restarted has lost its scripts; load them before the next decision needs them.
      onReady: () => void store?.loadScripts().catch((error: Error) => (store!.lastError = error)),
    });
    store = new RedisStateStore(client, options.keyPrefix ?? 'strata', options.now);
    await store.loadScripts();
    return store;
  }

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    checkReport(report);
    checkTtl('ttlMs', ttlMs);
    const own = report.serviceMs === undefined ? '' : String(report.serviceMs);
    await this.run(HEARTBEAT, [
      ttlMs,
      report.id,
      memberKey(memberOf(report)),
      own,
      ...Object.entries(encodeReport(report)).flat(),
    ]);
  }

  async deregister(nodeId: string): Promise<void> {
    await this.run(DEREGISTER, [nodeId]);
  }

  async liveNodes(): Promise<NodeView[]> {
    const reply = (await this.run(LIVE_NODES, [])) as string[][];
    const nodes: NodeView[] = [];
    for (const flat of reply) {
      const node = decodeNode(flat);
      if (node) nodes.push(node);
    }
    return nodes.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async storageNodes(): Promise<NodeView[]> {
    const reply = (await this.run(STORAGE_NODES, [])) as string[][];
    return reply.map(decodeNode).filter((node): node is NodeView => node !== undefined);
  }

  async membership(knownVersion?: number): Promise<Membership> {
    const [version, whole, flat] = (await this.run(MEMBERSHIP, [knownVersion ?? ''])) as [
      number,
      number | undefined,
      string[] | undefined,
    ];
    if (flat === undefined) return { version };
    if (whole === 0) {
      // Each entry: `<id length>|<id><member key>`, the key empty when the node left.
      const changes = flat.map((entry): MemberChange => {
        const bar = entry.indexOf('|');
        const end = bar + 1 + Number(entry.slice(0, bar));
        const id = entry.slice(bar + 1, end);
        return end === entry.length ? { id } : { id, member: parseMember(id, entry.slice(end)) };
      });
      return { version, changes };
    }
    const members: FleetMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push(parseMember(flat[i], flat[i + 1]));
    return { version, members: members.sort((a, b) => (a.id < b.id ? -1 : 1)) };
  }

  async reserve(selection: Selection, leaseMs = DEFAULT_LEASE_MS): Promise<Reservation> {
    checkTtl('leaseMs', leaseMs);
    if (!isIndexed(selection) && selection.candidates.length === 0) return NO_ROOM;
    const reply = (await this.run(RESERVE, this.reserveArgs(selection, leaseMs))) as [
      number,
      string,
      number,
      string,
      string,
    ];
    if (reply[0] === 0) return NO_ROOM;
    const [, nodeId, inFlight, lease, address] = reply;
    return {
      kind: 'chosen',
      nodeId,
      address,
      inFlight,
      release: releaseOnce(async () => void (await this.run(RELEASE, [lease]))),
    };
  }

  /** The one command a reservation sends (EVALSHA of the reserve script); public for the benchmark. */
  reserveCommand(selection: Selection, leaseMs = DEFAULT_LEASE_MS): string[] {
    return this.evalsha(RESERVE, this.reserveArgs(selection, leaseMs));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Commands this store has sent Redis, each one round trip: for tests and the benchmark. */
  get commandsSent(): number {
    return this.client.sent;
  }

  /** Sends any command: the functions registry's cache (common/functions/directory.ts), tests and the benchmark. */
  command(args: readonly string[]): Promise<RespValue> {
    return this.client.send(args);
  }

  private reserveArgs(selection: Selection, leaseMs: number): (string | number)[] {
    const s = selection as Partial<Record<'cursor' | 'sample' | 'quantile' | 'hash' | 'stepSeed', string | number>>;
    const draws = 'draws' in selection ? selection.draws : [];
    const exclude = 'exclude' in selection && selection.exclude ? [...new Set(selection.exclude)] : [];
    const candidates = isIndexed(selection) ? [] : selection.candidates;
    return [
      leaseMs,
      selection.rule,
      s.cursor ?? '',
      s.sample ?? 0,
      s.quantile ?? 0,
      s.hash ?? 0,
      s.stepSeed ?? 0,
      draws.length,
      ...draws,
      exclude.length,
      ...exclude,
      candidates.length,
      ...candidates.map((c) => c.id),
      ...candidates.map((c) => c.limit),
      leaseToken(),
    ];
  }

  private evalsha(script: LuaScript, args: readonly (string | number)[]): string[] {
    return ['EVALSHA', script.sha, '1', this.tag, this.now ? String(this.now()) : '', ...args.map(String)];
  }

  private async loadScripts(): Promise<void> {
    await Promise.all(ALL_SCRIPTS.map((script) => this.client.send(['SCRIPT', 'LOAD', script.source])));
  }

  /** Sends an EVALSHA; if the server has lost the script (a restart or SCRIPT FLUSH), loads it and tries once more. */
  private async run(script: LuaScript, args: readonly (string | number)[]): Promise<RespValue> {
    const command = this.evalsha(script, args);
    try {
      return await this.client.send(command);
    } catch (error) {
      if (!(error instanceof RespError) || !error.message.startsWith('NOSCRIPT')) throw error;
      await this.client.send(['SCRIPT', 'LOAD', script.source]);
      return this.client.send(command);
    }
  }
}

function encodeReport(report: NodeReport): Record<string, string> {
  const fields: Record<string, string> = {
    id: report.id,
    address: report.address,
    role: report.role,
    draining: report.draining ? '1' : '0',
  };
  for (const key of NUMBER_FIELDS) fields[key] = String(report[key]);
  if (report.serviceMs !== undefined) fields.serviceMs = String(report.serviceMs);
  if (report.functionServiceMs !== undefined) fields.functionServiceMs = JSON.stringify(report.functionServiceMs);
  return fields;
}

/**
 * A node from its flat hash, or undefined if the hash is not a whole, well-formed node (never
 * written by a heartbeat, or written by something else): one bad record is left out, not
 * thrown on, so it cannot stop every reader from seeing the rest of the fleet.
 */
function decodeNode(flat: readonly string[]): NodeView | undefined {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
  const numbers = Object.fromEntries(NUMBER_FIELDS.map((key) => [key, Number(hash[key])]));
  const inFlight = Number(hash.inFlight);
  const role = hash.role;
  if (!hash.id || !hash.address || (role !== 'compute' && role !== 'storage')) return undefined;
  if (!Object.values(numbers).every(Number.isFinite) || !Number.isFinite(inFlight)) return undefined;
  const serviceMs = hash.serviceMs === undefined ? undefined : Number(hash.serviceMs);
  if (serviceMs !== undefined && !Number.isFinite(serviceMs)) return undefined;
  const functionServiceMs = hash.functionServiceMs === undefined ? undefined : msByName(hash.functionServiceMs);
  if (functionServiceMs === null) return undefined;
  return {
    id: hash.id,
    address: hash.address,
    role,
    draining: hash.draining === '1',
    inFlight,
    ...(numbers as Record<(typeof NUMBER_FIELDS)[number], number>),
    ...(serviceMs === undefined ? {} : { serviceMs }),
    ...(functionServiceMs === undefined ? {} : { functionServiceMs }),
  };
}

/** A JSON object of finite numbers by name, or null if the text is anything else. */
function msByName(text: string): Record<string, number> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return Object.values(value).every(Number.isFinite) ? (value as Record<string, number>) : null;
}
