import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Thrown when an object does not exist; the API answers 404 for it. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object "${key}"`);
    this.name = 'ObjectNotFoundError';
  }
}

/** An object being read: its size, known before its bytes, and its bytes as they arrive. */
export interface ObjectStream {
  readonly size: number;
  /** Destroy it to stop reading early. */
  readonly body: Readable;
}

/** How much of an object a read takes at a time. */
const CHUNK_BYTES = 1024 * 1024;

/** Where functions' data lives: Ceph's RGW (S3 API) on AWS and in the Ceph tests, a local folder by default. */
export interface ObjectStore {
  get(key: string): Promise<Buffer>;
  /** Starts reading an object, for data stages that stream it; `signal` gives up on it (the invocation's deadline). */
  open(key: string, signal?: AbortSignal): Promise<ObjectStream>;
  put(key: string, body: Buffer | string): Promise<void>;
  /** For logs: where the objects are. */
  readonly location: string;
}

/** Objects as files under one folder (the embedded default for a local run). */
export class FolderObjectStore implements ObjectStore {
  readonly location: string;

  constructor(root: string) {
    this.location = resolve(root);
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  async open(key: string, signal?: AbortSignal): Promise<ObjectStream> {
    signal?.throwIfAborted();
    let file;
    try {
      file = await open(this.path(key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new ObjectNotFoundError(key);
      throw error;
    }
    const stats = await file.stat();
    if (!stats.isFile()) {
      await file.close();
      throw new ObjectNotFoundError(key); // a folder opens on Linux, and is not an object
    }
    return { size: stats.size, body: file.createReadStream({ highWaterMark: CHUNK_BYTES, signal }) };
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
  }

  /** The file of a key, which must stay inside the folder. */
  private path(key: string): string {
    const path = resolve(join(this.location, key));
    if (!path.startsWith(this.location + sep)) throw new ObjectNotFoundError(key);
    return path;
  }
}

export interface S3ObjectStoreOptions {
  /** e.g. http://127.0.0.1:7480 for a local RGW; omit for AWS S3. */
  readonly endpoint?: string;
  readonly bucket: string;
  /** @default 'us-east-1' (RGW ignores it) */
  readonly region?: string;
  /** @default the SDK's credential chain */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * How long a connection may stay silent (waiting for an answer, or between two chunks of
   * a body) before the request fails and the SDK retries it. Without it, a read from an RGW
   * host that lost its power waits forever: no reset ever comes, and the slot stays taken.
   * @default 15000
   */
  readonly idleTimeoutMs?: number;
}

/**
 * The S3 client's limits on RGW (every S3 client here uses them): a TCP connect may take
 * 5 s before the SDK tries again (DNS may then give another storage node), and a
 * connection may stay silent for 15 s.
 */
export const RGW_TIMEOUTS = { connectionTimeout: 5000, socketTimeout: 15_000 } as const;

/** Objects in an S3 bucket, path style so that Ceph's RGW serves them without wildcard DNS. */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  private readonly client: S3Client;

  constructor(private readonly options: S3ObjectStoreOptions) {
    this.location = `s3://${options.bucket}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      forcePathStyle: true,
      credentials: options.credentials,
      requestHandler: { ...RGW_TIMEOUTS, socketTimeout: options.idleTimeoutMs ?? RGW_TIMEOUTS.socketTimeout },
    });
  }

  async get(key: string): Promise<Buffer> {
    try {
      const reply = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return Buffer.from(await reply.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey')
        throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  async open(key: string, signal?: AbortSignal): Promise<ObjectStream> {
    try {
      // The signal ends the request and its retries (three attempts on a silent RGW take about 55 s).
      const reply = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }), {
        abortSignal: signal,
      });
      // In Node.js the SDK's body is a stream (an IncomingMessage).
      return { size: reply.ContentLength ?? 0, body: reply.Body as Readable };
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey')
        throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body }));
  }
}
