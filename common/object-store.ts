import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Thrown when an object does not exist; the API answers 404 for it. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object "${key}"`);
    this.name = 'ObjectNotFoundError';
  }
}

/** Where functions' data lives: Ceph's RGW (S3 API) on AWS and in the Ceph tests, a local folder by default. */
export interface ObjectStore {
  get(key: string): Promise<Buffer>;
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
}

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
    });
  }

  async get(key: string): Promise<Buffer> {
    try {
      const reply = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return Buffer.from(await reply.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body }));
  }
}
