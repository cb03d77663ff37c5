import { createClient } from '@redis/client';
import { byId, type NodeView, type Selection } from '@strata/policy-engine';
import { ALL_SCRIPTS, HEARTBEAT, LIVE_NODES, RELEASE, RESERVE, type LuaScript } from './redis-scripts';
import { NO_ROOM, releaseOnce, type NodeReport, type Reservation, type StateStore } from './types';

export interface RedisStateStoreOptions {
  /** `redis://host:port`, or `rediss://:token@host:port` for ElastiCache with TLS and an AUTH token. */
  readonly url: string;
  /**
   * Prefix of every key. It is wrapped in braces so that all keys hash to one slot,
   * which multi-key scripts need on a cluster. @default 'strata'
   */
  readonly keyPrefix?: string;
  /** How long to wait for a connection before a call fails. @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Called with connection errors (the client keeps reconnecting). @default they are kept in `lastError` */
  readonly onError?: (error: Error) => void;
}

function newClient(options: RedisStateStoreOptions, wasReady: () => boolean) {
  return createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      // Keep reconnecting a connection that once worked; a first connect that fails fails the caller.
      reconnectStrategy: (retries) => (wasReady() ? Math.min(50 * 2 ** retries, 2000) : false),
    },
  });
}

type Client = ReturnType<typeof newClient>;

/**
 * The state store on Redis or Valkey (ElastiCache on AWS). Every call is one round trip:
 * an EVALSHA of a script loaded once at connect (and again if the server lost it).
 * Calls fail at once while the connection is down instead of queueing, so that a
 * dispatcher can fall back to its last known nodes.
 *
 * Why node-redis: it is the client Redis maintains today (ioredis is in best-effort
 * maintenance), it speaks TLS and AUTH for ElastiCache, and it has no native parts.
 */
export class RedisStateStore implements StateStore {
  /** The last connection error, for health reports. */
  lastError: Error | undefined;

  private readonly registryKey: string;
  private readonly nodeKeyPrefix: string;
  private readonly epochKey: string;
  private readonly cursorKeyPrefix: string;

  private constructor(
    private readonly client: Client,
    keyPrefix: string,
  ) {
    const tag = `{${keyPrefix}}`;
    this.registryKey = `${tag}:nodes`;
    this.nodeKeyPrefix = `${tag}:node:`;
    this.epochKey = `${tag}:epochs`;
    this.cursorKeyPrefix = `${tag}:cursor:`;
  }

  static async connect(options: RedisStateStoreOptions): Promise<RedisStateStore> {
    let ready = false;
    const client = newClient(options, () => ready);
    const store = new RedisStateStore(client, options.keyPrefix ?? 'strata');
    client.on('error', (error: Error) => {
      store.lastError = error;
      options.onError?.(error);
    });
    client.on('ready', () => {
      ready = true;
      // A server that restarted has lost its scripts; load them before the next decision needs them.
      void store.loadScripts().catch((error: Error) => (store.lastError = error));
    });
    await client.connect();
    return store;
  }

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be above 0, got ${ttlMs}`);
    const fields = Object.entries(encodeReport(report)).flat();
    const keys = [this.registryKey, this.nodeKey(report.id), this.epochKey];
    await this.run(HEARTBEAT, evalsha(HEARTBEAT, keys, [Math.ceil(ttlMs), report.id, ...fields]));
  }

  async deregister(nodeId: string): Promise<void> {
    await this.client.multi().del(this.nodeKey(nodeId)).sRem(this.registryKey, nodeId).exec();
  }

  async liveNodes(): Promise<NodeView[]> {
    const reply = await this.run(LIVE_NODES, evalsha(LIVE_NODES, [this.registryKey], [this.nodeKeyPrefix]));
    const nodes: NodeView[] = [];
    for (const flat of reply as string[][]) {
      const node = decodeNode(flat);
      if (node) nodes.push(node);
    }
    return nodes.sort(byId);
  }

  async reserve(selection: Selection): Promise<Reservation> {
    const { candidates } = selection;
    if (candidates.length === 0) return NO_ROOM;
    const [index, inFlight, epoch] = (await this.run(RESERVE, this.reserveCommand(selection))) as number[];
    if (index === 0) return NO_ROOM;
    const nodeId = candidates[index - 1].id;
    return {
      kind: 'chosen',
      nodeId,
      inFlight,
      release: releaseOnce(async () => {
        await this.run(RELEASE, evalsha(RELEASE, [this.nodeKey(nodeId)], [epoch]));
      }),
    };
  }

  /** The one command a reservation sends (EVALSHA of the reserve script); public for the benchmark. */
  reserveCommand(selection: Selection): string[] {
    const { candidates } = selection;
    const keys = candidates.map((c) => this.nodeKey(c.id));
    if (selection.rule === 'rotate') keys.push(this.cursorKeyPrefix + selection.cursor);
    const sample = selection.rule === 'fewest-in-flight' ? selection.sample : 0;
    return evalsha(RESERVE, keys, [selection.rule, sample, ...candidates.map((c) => c.limit)]);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }

  /** Sends any command; for tests and the benchmark (command statistics, resets). */
  command(args: readonly string[]): Promise<unknown> {
    return this.client.sendCommand([...args]);
  }

  private nodeKey(nodeId: string): string {
    return this.nodeKeyPrefix + nodeId;
  }

  private async loadScripts(): Promise<void> {
    for (const script of ALL_SCRIPTS) await this.client.sendCommand(['SCRIPT', 'LOAD', script.source]);
  }

  /** Sends an EVALSHA; if the server has lost the script (a restart or SCRIPT FLUSH), loads it and tries once more. */
  private async run(script: LuaScript, command: string[]): Promise<unknown> {
    try {
      return await this.client.sendCommand(command);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      await this.client.sendCommand(['SCRIPT', 'LOAD', script.source]);
      return this.client.sendCommand(command);
    }
  }
}

function evalsha(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): string[] {
  return ['EVALSHA', script.sha, String(keys.length), ...keys, ...args.map(String)];
}

const NUMBER_FIELDS = [
  'slotsTotal',
  'slotsUsed',
  'cpuBusy',
  'memoryUsed',
  'load1',
  'load5',
  'load15',
  'cores',
  'heartbeatAt',
] as const satisfies readonly (keyof NodeReport)[];

function encodeReport(report: NodeReport): Record<string, string> {
  const fields: Record<string, string> = {
    id: report.id,
    address: report.address,
    role: report.role,
    draining: report.draining ? '1' : '0',
  };
  for (const key of NUMBER_FIELDS) {
    const value = report[key];
    if (!Number.isFinite(value)) throw new RangeError(`node report ${key} must be a finite number, got ${value}`);
    fields[key] = String(value);
  }
  return fields;
}

/** A node from its flat hash, or undefined if the hash is not a whole node (never written by a heartbeat). */
function decodeNode(flat: readonly string[]): NodeView | undefined {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
  const numbers = Object.fromEntries(NUMBER_FIELDS.map((key) => [key, Number(hash[key])]));
  const inFlight = Number(hash.inFlight);
  const role = hash.role;
  if (!hash.id || !hash.address || (role !== 'compute' && role !== 'storage')) return undefined;
  if (!Object.values(numbers).every(Number.isFinite) || !Number.isFinite(inFlight)) return undefined;
  return {
    id: hash.id,
    address: hash.address,
    role,
    draining: hash.draining === '1',
    inFlight,
    ...(numbers as Record<(typeof NUMBER_FIELDS)[number], number>),
  };
}
