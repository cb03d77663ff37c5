import { RespClient, type RespClientOptions, RespError, type RespValue } from './resp-client';

/** How many hash slots a Redis Cluster has. */
export const SLOTS = 16384;

/** What the Redis state store needs of a connection: a RespClient, or a SlotClient on a cluster. */
export interface CommandClient {
  /** Commands sent so far, each one round trip. */
  readonly sent: number;
  send(args: readonly string[]): Promise<RespValue>;
  close(): Promise<void>;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc;
}

/** The cluster slot of a key, as Redis computes it: only the part in the first non-empty `{...}` counts. */
export function hashSlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key, 'utf8')) % SLOTS;
}

/**
 * A connection to whichever primary of a Redis Cluster holds one slot: every command it
 * sends must touch only keys in that slot (the state store's scripts do: one hash tag).
 * It finds the primary with CLUSTER SLOTS through the URL's node; on a MOVED reply (a
 * failover or a resharding moved the slot) it connects to the new primary and sends the
 * command once more. A cell's store holds one of these, so the state store keeps its one
 * round trip per call on a cluster.
 */
export class SlotClient implements CommandClient {
  private sentBefore = 0;

  private constructor(
    private client: RespClient,
    private readonly slot: number,
    private readonly options: RespClientOptions,
    private url: string,
  ) {}

  /** Connects to the primary of `slot`, asking the node at `options.url` where it is. */
  static async connect(options: RespClientOptions, slot: number): Promise<SlotClient> {
    const seed = await RespClient.connect({ ...options, onReady: undefined });
    let address: string;
    try {
      const slots = await seed.send(['CLUSTER', 'SLOTS']).catch((error: Error) => {
        throw new Error(`the state store at ${hostPort(options.url)} is not a Redis Cluster (${error.message})`);
      });
      address = primaryOf(slots, slot) ?? hostPort(options.url);
    } finally {
      await seed.close();
    }
    const url = withAddress(options.url, address);
    return new SlotClient(await RespClient.connect({ ...options, url }), slot, options, url);
  }

  get sent(): number {
    return this.sentBefore + this.client.sent;
  }

  /** The primary this client sends to, `host:port`. */
  get address(): string {
    return hostPort(this.url);
  }

  async send(args: readonly string[]): Promise<RespValue> {
    try {
      return await this.client.send(args);
    } catch (error) {
      const moved = error instanceof RespError ? /^MOVED (\d+) (\S+)$/.exec(error.message) : null;
      if (!moved || Number(moved[1]) !== this.slot) throw error;
      await this.moveTo(moved[2]);
      return this.client.send(args);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async moveTo(address: string): Promise<void> {
    const old = this.client;
    this.sentBefore += old.sent;
    this.url = withAddress(this.options.url, address);
    this.client = await RespClient.connect({ ...this.options, url: this.url });
    await old.close();
  }
}

/** The `host:port` of the primary serving `slot`, from a CLUSTER SLOTS reply. */
export function primaryOf(reply: RespValue, slot: number): string | undefined {
  if (!Array.isArray(reply)) return undefined;
  for (const range of reply) {
    if (!Array.isArray(range)) continue;
    const [start, end, primary] = range;
    if (typeof start === 'number' && typeof end === 'number' && start <= slot && slot <= end && Array.isArray(primary))
      return `${primary[0]}:${primary[1]}`;
  }
  return undefined;
}

function hostPort(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 6379}`;
}

/** The URL with another host and port: the same scheme, credentials and TLS (every node of a cluster shares them). */
function withAddress(url: string, address: string): string {
  const parsed = new URL(url);
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  parsed.hostname = host.includes(':') ? `[${host}]` : host;
  parsed.port = address.slice(colon + 1);
  return parsed.toString();
}

/** The state store's layout, as its URL's query gives it: `rediss://host:port?cells=3&cluster=yes`. */
export interface StateUrlOptions {
  /** How many cells the fleet is split into (common/state/cells.ts). @default 1 */
  readonly cells: number;
  /** The URL names a node of a Redis Cluster: each cell connects to the primary of its slot. @default false */
  readonly cluster: boolean;
}

/**
 * The layout options in a state store URL's query. They travel with the URL, so that
 * every process that is given the URL (the dispatcher, the nodes, the functions API, the
 * CLI) agrees on the cells without a setting of its own. Anything else in the query, or a
 * bad value, is an error that names it.
 */
export function stateUrlOptions(url: string): StateUrlOptions {
  const query = new URL(url).searchParams;
  for (const key of query.keys())
    if (key !== 'cells' && key !== 'cluster')
      throw new RangeError(`the state store URL's query takes cells and cluster, got "${key}"`);
  const cellsText = query.get('cells') ?? '1';
  const cells = Number(cellsText);
  if (!/^\d+$/.test(cellsText) || cells < 1 || cells > 64)
    throw new RangeError(`the state store URL's cells must be a whole number from 1 to 64, got "${cellsText}"`);
  const clusterText = query.get('cluster') ?? 'no';
  if (clusterText !== 'yes' && clusterText !== 'no')
    throw new RangeError(`the state store URL's cluster must be yes or no, got "${clusterText}"`);
  return { cells, cluster: clusterText === 'yes' };
}
