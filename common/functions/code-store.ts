import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

/**
 * Where functions' modules and the registry's records are kept for good: an S3 bucket on
 * AWS (versioned, KMS-encrypted), a folder on one machine. Each record is one object, and
 * a new one is made with create-if-absent, so two deploys racing for one version number
 * cannot both win.
 */
export interface CodeStore {
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, body: Buffer | string): Promise<void>;
  /** Writes the object only if there is none yet; answers whether it did. */
  create(key: string, body: Buffer | string): Promise<boolean>;
  /** The keys under a prefix, in no particular order. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  readonly location: string;
}

/** A folder: each key a file, written whole (a temporary file, then a rename) so that no reader sees half of one. */
export class FolderCodeStore implements CodeStore {
  readonly location: string;

  constructor(root: string) {
    this.location = resolve(root);
  }

  async get(key: string): Promise<Buffer | undefined> {
    return readFile(this.path(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, body);
    await rename(temporary, path);
  }

  async create(key: string, body: Buffer | string): Promise<boolean> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    // Whole in a temporary file first; then a hard link, which fails if the name is taken.
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, body);
    try {
      await link(temporary, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temporary, { force: true });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const root = this.path(prefix.replace(/\/$/, '') || '.', true);
    const keys: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
        throw error;
      });
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (!entry.name.endsWith('.tmp')) keys.push(relative(this.location, path).split(sep).join('/'));
      }
    };
    await walk(root);
    return keys.filter((key) => key.startsWith(prefix));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  private path(key: string, allowRoot = false): string {
    const path = resolve(join(this.location, key));
    if (!(path.startsWith(this.location + sep) || (allowRoot && path === this.location))) {
      throw new Error(`code store key "${key}" is outside ${this.location}`);
    }
    return path;
  }
}

export interface S3CodeStoreOptions {
  readonly bucket: string;
  /** @default the SDK's (AWS_REGION) */
  readonly region?: string;
  /** For a local S3 (RGW); omit on AWS. */
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** An S3 bucket; `create` is a PUT with `If-None-Match: *`, which S3 answers 412 when the key exists. */
export class S3CodeStore implements CodeStore {
  readonly location: string;
  private readonly client: S3Client;

  constructor(private readonly options: S3CodeStoreOptions) {
    this.location = `s3://${options.bucket}`;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.endpoint !== undefined,
      credentials: options.credentials,
    });
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const reply = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return Buffer.from(await reply.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body }));
  }

  async create(key: string, body: Buffer | string): Promise<boolean> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body, IfNoneMatch: '*' }),
      );
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false; // 409: a concurrent create of the same key is still in flight
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }
}

/** `s3://bucket` or a folder path, as the nodes and the command line name a code store. */
export function codeStoreAt(location: string, s3: Omit<S3CodeStoreOptions, 'bucket'> = {}): CodeStore {
  const bucket = /^s3:\/\/([^/]+)\/?$/.exec(location)?.[1];
  return bucket ? new S3CodeStore({ ...s3, bucket }) : new FolderCodeStore(location);
}
