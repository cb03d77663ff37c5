import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Host } from '../emulated-hosts';

/** What the instance metadata service tells one instance. */
export interface InstanceMetadata {
  readonly instanceId: string;
  readonly localIpv4: string;
  readonly availabilityZone: string;
  readonly mac: string;
  readonly interfaceId: string;
  /** The instance's tags, or undefined when the launch settings leave tags out of IMDS (the default). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Auto Scaling's target lifecycle state (InService, Terminated), for instances of a group. */
  lifecycleState?: string;
}

export const IMDS_ADDRESS = '169.254.169.254';

/**
 * The EC2 instance metadata service, IMDSv2 only (a PUT for a session token first, as
 * `HttpTokens: required` makes it), one server for every emulated host: it tells hosts
 * apart by the address a request comes from. Each host reaches it at 169.254.169.254:80
 * through a DNAT rule in its own network namespace.
 */
export class MetadataService {
  private readonly instances = new Map<string, InstanceMetadata>();
  private readonly tokens = new Map<string, { address: string; expires: number }>();
  private server: Server | undefined;
  private endpoint = '';
  /** Requests answered, by path, for the report: what the scripts asked. */
  readonly asked = new Map<string, number>();

  async listen(host: string): Promise<void> {
    this.server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    const address = this.server.address();
    this.endpoint = `${host}:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Serves this metadata to the host at `address`, and points the host's 169.254.169.254 at this server. */
  async register(host: Host, metadata: InstanceMetadata): Promise<void> {
    this.instances.set(host.address, metadata);
    await host.inNetwork('nft', ['-f', '-'], {
      input: `table ip strata_imds {
  chain output { type nat hook output priority -100; ip daddr ${IMDS_ADDRESS} tcp dport 80 dnat to ${this.endpoint}; }
}
`,
    });
  }

  /** The metadata served to a host, e.g. to change its lifecycle state. */
  metadata(address: string): InstanceMetadata | undefined {
    return this.instances.get(address);
  }

  forget(address: string): void {
    this.instances.delete(address);
  }

  close(): void {
    this.server?.close();
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const from = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const reply = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    const path = (req.url ?? '').split('?')[0];
    this.asked.set(path, (this.asked.get(path) ?? 0) + 1);
    if (req.method === 'PUT' && path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return reply(400, 'Bad Request');
      const token = randomBytes(24).toString('base64url');
      this.tokens.set(token, { address: from, expires: Date.now() + ttl * 1000 });
      return reply(200, token);
    }
    if (req.method !== 'GET') return reply(405, 'Method Not Allowed');
    const session = this.tokens.get(String(req.headers['x-aws-ec2-metadata-token'] ?? ''));
    if (!session || session.address !== from || session.expires < Date.now()) return reply(401, 'Unauthorized'); // IMDSv1 is off
    const instance = this.instances.get(from);
    if (!instance) return reply(404, 'Not Found');
    const value = lookup(instance, path.replace(/^\/latest\/meta-data\/?/, ''));
    return value === undefined ? reply(404, 'Not Found') : reply(200, value);
  }
}

function lookup(instance: InstanceMetadata, path: string): string | undefined {
  const tags = instance.tags;
  const macPrefix = `network/interfaces/macs/${instance.mac}/`;
  switch (path) {
    case 'instance-id':
      return instance.instanceId;
    case 'local-ipv4':
      return instance.localIpv4;
    case 'mac':
      return instance.mac;
    case 'placement/availability-zone':
      return instance.availabilityZone;
    case 'placement/region':
      return instance.availabilityZone.slice(0, -1);
    case 'autoscaling/target-lifecycle-state':
      return instance.lifecycleState;
    case `${macPrefix}interface-id`:
      return instance.interfaceId;
    case `${macPrefix}local-ipv4s`:
      return instance.localIpv4;
    case 'tags/instance':
    case 'tags/instance/':
      return tags ? Object.keys(tags).join('\n') : undefined;
  }
  if (tags && path.startsWith('tags/instance/')) return tags[decodeURIComponent(path.slice('tags/instance/'.length))];
  return undefined;
}
