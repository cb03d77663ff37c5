import { isIndexed, type NodeView, type Selection } from '@strata/policy-engine';
import { type CommandClient, hashSlot, SlotClient, stateUrlOptions } from './cluster';
import {
  ALL_SCRIPTS,
  DEREGISTER,
  DROP_PLACE,
  HEARTBEAT,
  HEARTBEAT_STORAGE,
  LIVE_NODES,
  type LuaScript,
  MEMBERSHIP,
  PUBLISH_PLACEMENT,
  READ_PLACEMENT,
  RELEASE,
  RESERVE,
  ROOM_LEFT,
  STORAGE_NODES,
} from './redis-scripts';
import { RespClient, RespError, type RespValue } from './resp-client';
import {
  checkPlace,
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
  type QueuePlace,
  queued,
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
  /**
   * The URL names a node of a Redis Cluster (ElastiCache in cluster mode): connect to the
   * primary that holds this store's slot (its hash tag's), and follow it when it moves.
   * @default the URL's `cluster=yes|no` (stateUrlOptions), else false
   */
  readonly cluster?: boolean;
}

/** A reservation, with the free slots its store (its cell) had left right after it: for tier 0. */
export interface ReservationInCell {
  readonly reservation: Reservation;
  readonly room: number;
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
  /** The storage view as last answered, and its version: a heartbeat or a read sends the version, and the view comes back only when it changed. */
  private storageView: { readonly version: string; readonly nodes: readonly NodeView[] } | undefined;

  private constructor(
    private readonly client: CommandClient,
    keyPrefix: string,
    private readonly now: (() => number) | undefined,
  ) {
    this.tag = `{${keyPrefix}}`;
  }

  static async connect(options: RedisStateStoreOptions): Promise<RedisStateStore> {
    let store: RedisStateStore | undefined;
    const keyPrefix = options.keyPrefix ?? 'strata';
    const connect =
      (options.cluster ?? stateUrlOptions(options.url).cluster)
        ? (o: Parameters<typeof RespClient.connect>[0]) => SlotClient.connect(o, hashSlot(`{${keyPrefix}}`))
        : RespClient.connect;
    const client = await connect({
      url: options.url,
      connectTimeoutMs: options.connectTimeoutMs,
      replyTimeoutMs: options.replyTimeoutMs,
      onError: (error) => {
        if (store) store.lastError = error;
        options.onError?.(error);
      },
      // A server that restarted has lost its scripts; load them before the next decision needs them.
      // It has lost its storage view's version too: one it counts anew must not be taken for the one held here.
      onReady: () => {
        if (store) store.storageView = undefined;
        void store?.loadScripts().catch((error: Error) => (store!.lastError = error));
      },
    });
    store = new RedisStateStore(client, keyPrefix, options.now);
    await store.loadScripts();
    return store;
  }

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    await this.run(HEARTBEAT, this.heartbeatArgs(report, ttlMs));
  }

  private heartbeatArgs(report: NodeReport, ttlMs: number): (string | number)[] {
    checkReport(report);
    checkTtl('ttlMs', ttlMs);
    const own = report.serviceMs === undefined ? '' : String(report.serviceMs);
    return [ttlMs, report.id, memberKey(memberOf(report)), own, ...Object.entries(encodeReport(report)).flat()];
  }

  /** The heartbeat, and the storage view in its reply (only if it changed since this store's last one): one round trip (HEARTBEAT_STORAGE). */
  async heartbeatWithStorage(report: NodeReport, ttlMs: number): Promise<NodeView[]> {
    const held = this.storageView;
    const reply = await this.run(HEARTBEAT_STORAGE, [...this.heartbeatArgs(report, ttlMs), held?.version ?? '']);
    return this.storageViewFrom(reply as [string, string?], held);
  }

  /** A storage agent publishes the placement map of this OSD map epoch (tier 3 by locality); true if it replaced the one there. */
  async publishPlacement(epoch: number, map: string): Promise<boolean> {
    return String(await this.run(PUBLISH_PLACEMENT, [epoch, map])) !== '';
  }

  /** The placement map and its version, the map only if its version is not \`heldVersion\`; undefined if none is published. */
  async placement(heldVersion = ''): Promise<{ version: string; map?: string } | undefined> {
    const [version, map] = (await this.run(READ_PLACEMENT, [heldVersion])) as string[];
    return version === undefined ? undefined : { version: String(version), map };
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
    const held = this.storageView;
    return this.storageViewFrom((await this.run(STORAGE_NODES, [held?.version ?? ''])) as [string, string?], held);
  }

  /**
   * The storage view from a script's reply: the nodes in it, or, if it answered only that the
   * version sent is current, those of the view sent (`held`; the store's versions start at '0',
   * so a caller that sent '' always gets the view).
   */
  private storageViewFrom([version, view]: [string, string?], held: RedisStateStore['storageView']): NodeView[] {
    if (view === undefined) return [...(held?.nodes ?? [])];
    const flats = JSON.parse(view) as string[][];
    const nodes = flats.map(decodeNode).filter((node): node is NodeView => node !== undefined);
    this.storageView = { version: String(version), nodes };
    return [...nodes];
  }

  async membership(knownVersion?: number): Promise<Membership> {
    return (await this.membershipInCell(knownVersion)).membership;
  }

  /** membership(), and the free slots this store (its cell) has, in the same round trip: tier 0's view of a cell. */
  async membershipInCell(knownVersion?: number): Promise<{ membership: Membership; room: number }> {
    const [version, room, whole, flat] = (await this.run(MEMBERSHIP, [knownVersion ?? ''])) as [
      number,
      number,
      number | undefined,
      string[] | undefined,
    ];
    return { membership: parseMembership(version, whole, flat), room };
  }

  /** The membership's version alone (a GET of one key): how a CellStateStore learns each cell's behind a fleet version. */
  async membershipVersion(): Promise<number> {
    return Number((await this.client.send(['GET', `${this.tag}:version`])) ?? 0);
  }

  async reserve(selection: Selection, leaseMs = DEFAULT_LEASE_MS, place?: QueuePlace): Promise<Reservation> {
    return (await this.reserveInCell(selection, leaseMs, place)).reservation;
  }

  /** reserve(), and the free slots this store has left after it, in the same round trip: tier 0's view of a cell. */
  async reserveInCell(
    selection: Selection,
    leaseMs = DEFAULT_LEASE_MS,
    place?: QueuePlace,
  ): Promise<ReservationInCell> {
    checkTtl('leaseMs', leaseMs);
    if (place) checkPlace(place);
    // An empty candidate list has nothing to ask the store, unless it holds a queue place: then it queues (or leaves) as any.
    if (!place && !isIndexed(selection) && selection.candidates.length === 0)
      return { reservation: NO_ROOM, room: Number.NaN };
    const reply = (await this.run(RESERVE, this.reserveArgs(selection, leaseMs, place))) as [
      number,
      string | number,
      number,
      string,
      string,
      number,
    ];
    if (reply[0] === 0)
      return { reservation: reply[2] === undefined ? NO_ROOM : queued(Number(reply[2])), room: Number(reply[1] ?? 0) };
    const [, nodeId, inFlight, lease, address, room] = reply;
    return {
      reservation: {
        kind: 'chosen',
        nodeId: String(nodeId),
        address,
        inFlight,
        release: releaseOnce(async () => void (await this.run(RELEASE, [lease]))),
      },
      room,
    };
  }

  /** Takes a queue place out of this store's queue (a waiter placed in another cell). */
  async dropPlace(id: string): Promise<void> {
    await this.run(DROP_PLACE, [id]);
  }

  /** The free slots of this store's eligible nodes (its cell's), one O(1) call: tier 0's look at a cell. */
  async room(): Promise<number> {
    return Number(await this.run(ROOM_LEFT, []));
  }

  /** The one command a reservation sends (EVALSHA of the reserve script); public for the benchmark. */
  reserveCommand(selection: Selection, leaseMs = DEFAULT_LEASE_MS, place?: QueuePlace): string[] {
    return this.evalsha(RESERVE, this.reserveArgs(selection, leaseMs, place));
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

  private reserveArgs(selection: Selection, leaseMs: number, place?: QueuePlace): (string | number)[] {
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
      place?.id ?? '',
      place?.since ?? 0,
      place?.holdMs ?? 0,
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

/** A membership from the script's reply: the version alone, the changes since the caller's, or every member. */
function parseMembership(version: number, whole: number | undefined, flat: string[] | undefined): Membership {
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
