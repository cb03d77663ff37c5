import type { LookupAddress } from 'node:dns';
import { Agent } from 'node:https';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RGW_TIMEOUTS } from '../../common/object-store';

export interface RgwAccess {
  /** RGW's name as the templates give it (rgw.storage.strata.internal) and its port. */
  readonly name: string;
  readonly port: number;
  /** The addresses the name resolves to (the private zone's A record), asked at each connection. */
  readonly addresses: () => readonly string[];
  readonly bucket: string;
  readonly caCertificate: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

/**
 * S3 on RGW from this machine, as a node reaches it: by its DNS name (resolved here to
 * every address of the record, in turn, as DNS round robin answers), over TLS with the
 * cluster's CA, path style.
 */
export class RgwObjects {
  private readonly client: S3Client;
  private turn = 0;

  constructor(private readonly access: RgwAccess) {
    const lookup = (
      hostname: string,
      options: { all?: boolean },
      callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
    ) => {
      const all = hostname === access.name ? this.rotated() : [];
      if (all.length === 0)
        return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
      if (options.all)
        return callback(
          null,
          all.map((address) => ({ address, family: 4 })),
        );
      return callback(null, all[0], 4);
    };
    this.client = new S3Client({
      endpoint: `https://${access.name}:${access.port}`,
      region: access.region,
      forcePathStyle: true,
      credentials: { accessKeyId: access.accessKeyId, secretAccessKey: access.secretAccessKey },
      // A host that loses its power never resets its connections: a silent one fails and the
      // SDK retries it, as on the compute nodes (a requestTimeout would only log a warning).
      requestHandler: {
        httpsAgent: new Agent({ ca: access.caCertificate, lookup: lookup as never, keepAlive: false }),
        ...RGW_TIMEOUTS,
      },
      maxAttempts: 3,
    });
  }

  async put(key: string, body: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.access.bucket, Key: key, Body: body }));
  }

  async get(key: string): Promise<string> {
    const reply = await this.client.send(new GetObjectCommand({ Bucket: this.access.bucket, Key: key }));
    return reply.Body!.transformToString('utf8');
  }

  async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.access.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  }

  close(): void {
    this.client.destroy();
  }

  private rotated(): string[] {
    const addresses = [...this.access.addresses()];
    const start = this.turn++ % Math.max(1, addresses.length);
    return [...addresses.slice(start), ...addresses.slice(0, start)];
  }
}
