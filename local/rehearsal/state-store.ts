import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must } from '../commands';
import { freePort } from '../redis-server';

/** A certificate authority of the rehearsal's own, standing for the public CAs that sign AWS's endpoints. */
export class RehearsalCa {
  readonly certificate: string;
  private readonly key: string;

  private constructor(private readonly folder: string) {
    this.certificate = join(folder, 'ca.crt');
    this.key = join(folder, 'ca.key');
  }

  static async create(folder: string): Promise<RehearsalCa> {
    mkdirSync(folder, { recursive: true });
    const ca = new RehearsalCa(folder);
    await must('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=Strata rehearsal CA',
      '-keyout',
      ca.key,
      '-out',
      ca.certificate,
    ]);
    return ca;
  }

  /** A certificate for these DNS names and IP addresses, signed by the CA; answers the files. */
  async issue(
    name: string,
    dnsNames: readonly string[],
    ips: readonly string[] = [],
  ): Promise<{ certificate: string; key: string }> {
    const certificate = join(this.folder, `${name}.crt`);
    const key = join(this.folder, `${name}.key`);
    const csr = join(this.folder, `${name}.csr`);
    const san = [...dnsNames.map((dns) => `DNS:${dns}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
    await must('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${dnsNames[0]}`,
      '-keyout',
      key,
      '-out',
      csr,
    ]);
    await must('sh', [
      '-c',
      `printf 'subjectAltName=%s\\n' "$1" > "$2.ext" && openssl x509 -req -in "$2" -CA "$3" -CAkey "$4" -CAcreateserial -days 2 -extfile "$2.ext" -out "$5"`,
      'sh',
      san,
      csr,
      this.certificate,
      this.key,
      certificate,
    ]);
    return { certificate, key };
  }
}

/** A state store user as the template makes it: its name, access string and password. */
export interface StateStoreUser {
  readonly name: string;
  readonly accessString: string;
  readonly password: string;
}

/** The state store as ElastiCache runs it: Valkey/Redis with TLS required and a user per role, on the port the templates name. */
export interface StateStoreStandIn {
  /** Plain redis:// on this machine's loopback as one of the template's users, for the rehearsal's own reads and writes. */
  localUrl(user: string): string;
  stop(): Promise<void>;
}

/**
 * Debian's redis-server with TLS on `address:port` (certificate for `name`, from the
 * rehearsal CA) and the template's users (ElastiCache RBAC) in its ACL file, each with its
 * access string and password (as its SHA-256), the default user off: as ElastiCache with
 * transit encryption required and a Valkey user group answers. Plus a plain port on
 * loopback for the rehearsal's checks, which connect as one of those users too.
 */
export async function startStateStore(options: {
  ca: RehearsalCa;
  name: string;
  address: string;
  port: number;
  users: readonly StateStoreUser[];
  folder: string;
}): Promise<StateStoreStandIn> {
  const { certificate, key } = await options.ca.issue('state-store', [options.name]);
  const localPort = await freePort();
  const aclFile = join(options.folder, 'state-store.acl');
  const lines = options.users.map(
    (user) => `user ${user.name} ${user.accessString} #${createHash('sha256').update(user.password).digest('hex')}`,
  );
  writeFileSync(aclFile, [...lines, 'user default off -@all', ''].join('\n'), { mode: 0o600 });
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--bind',
      options.address,
      '127.0.0.1',
      '--port',
      String(localPort),
      '--tls-port',
      String(options.port),
      '--tls-cert-file',
      certificate,
      '--tls-key-file',
      key,
      '--tls-ca-cert-file',
      options.ca.certificate,
      '--tls-auth-clients',
      'no',
      '--aclfile',
      aclFile,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      options.folder,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} (is it built with TLS?):\n${output}`));
    });
  });
  child.stdout!.resume();
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit); // also when the rehearsal is stopped by a signal
  return {
    localUrl: (name) => {
      const user = options.users.find((candidate) => candidate.name === name);
      if (!user) throw new Error(`the state store has no user ${name}: ${options.users.map((u) => u.name).join(', ')}`);
      return `redis://${encodeURIComponent(name)}:${encodeURIComponent(user.password)}@127.0.0.1:${localPort}`;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        process.off('exit', killOnExit);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
