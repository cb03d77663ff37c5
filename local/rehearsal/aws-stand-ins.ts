import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { must } from '../commands';
import type { CloudAssembly } from './cloudformation';

/**
 * What the AWS seam reads and writes in the rehearsal (local/rehearsal-aws.sh), in one
 * folder of this machine that every host sees at /run/strata-aws:
 *   secrets/NAME           a secret's current value (NAME: the ARN after ":secret:")
 *   secrets/NAME.versions  every value put, one a line in base64
 *   s3/BUCKET/KEY          objects the user data fetches (the node bundle)
 *   signals/RESOURCE.waiting    a resource whose creation waits for signals (CreationPolicy)
 *   signals/RESOURCE.UNIQUE-ID  a signal it got: SUCCESS or FAILURE
 *   volumes/VOLUME         the device a data volume is on (the host it is attached to has it)
 *   addresses/ADDRESS      the network interface a fixed address was claimed for
 *   lifecycle              completed lifecycle actions, one a line
 *   bin/node               this machine's Node.js, the seam's stand-in for NodeSource's and AL2023's
 */
export class AwsStandIns {
  readonly folder: string;
  private server: Server | undefined;

  constructor(folder: string) {
    this.folder = folder;
    rmSync(folder, { recursive: true, force: true });
    for (const sub of ['secrets', 's3', 'signals', 'volumes', 'addresses', 'bin'])
      mkdirSync(join(folder, sub), { recursive: true });
    writeFileSync(join(folder, 'lifecycle'), '');
    copyFileSync(process.execPath, join(folder, 'bin', 'node'));
    chmodSync(join(folder, 'bin', 'node'), 0o755);
  }

  /**
   * Every secret of the templates, with the value CloudFormation generates at create:
   * a random 32-character string, or a JSON object with a generated key (GenerateSecretString).
   */
  seedSecrets(assembly: CloudAssembly, stacks: readonly string[]): void {
    for (const stack of stacks) {
      for (const [logicalId, resource] of assembly.resources(stack, 'AWS::SecretsManager::Secret')) {
        const generate = (resource.Properties?.GenerateSecretString ?? {}) as {
          SecretStringTemplate?: string;
          GenerateStringKey?: string;
          PasswordLength?: number;
          ExcludePunctuation?: boolean;
        };
        const text = (resource.Properties?.SecretString as string | undefined) ?? generated(generate);
        this.putSecret(assembly.resolve(stack, { Ref: logicalId }) as string, text);
      }
    }
  }

  secret(arn: string): string {
    return readFileSync(this.secretPath(arn), 'utf8');
  }

  /** Every value the secret has had, oldest first. */
  secretVersions(arn: string): string[] {
    const path = `${this.secretPath(arn)}.versions`;
    return existsSync(path)
      ? readFileSync(path, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => Buffer.from(line, 'base64').toString('utf8'))
      : [];
  }

  putSecret(arn: string, value: string): void {
    const path = this.secretPath(arn);
    writeFileSync(`${path}.tmp`, value);
    renameSync(`${path}.tmp`, path);
    writeFileSync(`${path}.versions`, `${Buffer.from(value).toString('base64')}\n`, { flag: 'a' });
  }

  /** Publishes a folder as the zip an S3 asset is (what `cdk deploy` uploads). */
  async publishFolder(folder: string, s3Uri: string): Promise<void> {
    const target = join(this.folder, 's3', s3Uri.replace(/^s3:\/\//, ''));
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true });
    await must('sh', ['-c', `cd "${folder}" && zip -qr "${target}" .`]);
  }

  /** A resource's creation starts to wait for signals, as CloudFormation does with a CreationPolicy. */
  awaitSignals(resource: string): void {
    writeFileSync(join(this.folder, 'signals', `${resource}.waiting`), '');
  }

  /** Its creation is over: later signals are refused, as CloudFormation refuses them. */
  stopAwaitingSignals(resource: string): void {
    rmSync(join(this.folder, 'signals', `${resource}.waiting`), { force: true });
  }

  /** The signals received, as { resource, uniqueId, status, at (ms since the epoch) }. */
  signals(): { resource: string; uniqueId: string; status: string; at: number }[] {
    return readdirSync(join(this.folder, 'signals'))
      .filter((name) => !name.endsWith('.waiting'))
      .map((name) => {
        const [resource, ...rest] = name.split('.');
        const file = join(this.folder, 'signals', name);
        return {
          resource,
          uniqueId: rest.join('.'),
          status: readFileSync(file, 'utf8').trim(),
          at: statSync(file).mtimeMs,
        };
      });
  }

  /** A data volume is on this device (the seam's attach answers it). */
  attachVolume(volume: string, device: string): void {
    writeFileSync(join(this.folder, 'volumes', volume), `${device}\n`);
  }

  /** Which network interface each fixed address was claimed for. */
  claimedAddresses(): Record<string, string> {
    const folder = join(this.folder, 'addresses');
    return Object.fromEntries(
      readdirSync(folder).map((address) => [address, readFileSync(join(folder, address), 'utf8').trim()]),
    );
  }

  lifecycleActions(): string[] {
    return readFileSync(join(this.folder, 'lifecycle'), 'utf8').split('\n').filter(Boolean);
  }

  /**
   * Secrets Manager's GetSecretValue over HTTP (the JSON 1.1 protocol) from the same folder:
   * the dispatcher Lambda's SDK reaches it through AWS_ENDPOINT_URL_SECRETS_MANAGER.
   */
  async serveSecretsManager(host: string): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const reply = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(value));
        };
        if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue')
          return reply(400, {
            __type: 'InvalidRequestException',
            message: `not a stand-in for ${String(req.headers['x-amz-target'])}`,
          });
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        if (!existsSync(this.secretPath(SecretId)))
          return reply(400, {
            __type: 'ResourceNotFoundException',
            message: `Secrets Manager can't find the specified secret: ${SecretId}`,
          });
        return reply(200, {
          ARN: SecretId,
          Name: SecretId.split(':secret:')[1],
          SecretString: this.secret(SecretId),
          VersionId: randomUUID(),
          VersionStages: ['AWSCURRENT'],
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    const address = this.server.address();
    return `http://${host}:${typeof address === 'object' && address ? address.port : 0}`;
  }

  close(): void {
    this.server?.close();
    rmSync(this.folder, { recursive: true, force: true });
  }

  private secretPath(arn: string): string {
    const name = arn.split(':secret:')[1];
    if (!name || !/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`not a secret ARN of the rehearsal: ${arn}`);
    return join(this.folder, 'secrets', name);
  }
}

/** A value as GenerateSecretString makes it: 32 characters of letters, digits and (unless excluded) punctuation. */
function generated(spec: {
  SecretStringTemplate?: string;
  GenerateStringKey?: string;
  PasswordLength?: number;
  ExcludePunctuation?: boolean;
}): string {
  const alphabet = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${spec.ExcludePunctuation ? '' : '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'}`;
  const random = [...randomBytes(spec.PasswordLength ?? 32)].map((byte) => alphabet[byte % alphabet.length]).join('');
  if (!spec.GenerateStringKey) return random;
  return JSON.stringify({
    ...(JSON.parse(spec.SecretStringTemplate ?? '{}') as object),
    [spec.GenerateStringKey]: random,
  });
}
