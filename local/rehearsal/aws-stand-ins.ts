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
 *   ssm/NAME.jsonl         an SSM parameter's versions, one a line ({ version, value, at, user })
 *   logs/GROUP.jsonl       CloudWatch Logs events put, one a line ({ stream, timestamp, message })
 *   bin/node               this machine's Node.js, the seam's stand-in for NodeSource's and AL2023's
 */
export class AwsStandIns {
  readonly folder: string;
  private server: Server | undefined;
  /** What Lambda's Invoke runs: the rehearsal's dispatcher, once it is up. */
  private lambdas = new Map<string, (payload: unknown) => Promise<unknown>>();

  constructor(folder: string) {
    this.folder = folder;
    rmSync(folder, { recursive: true, force: true });
    for (const sub of ['secrets', 's3', 'signals', 'volumes', 'addresses', 'bin', 'ssm', 'logs'])
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

  /** Every SSM parameter of the templates, at version 1 with its template value, as a deploy creates it. */
  seedParameters(assembly: CloudAssembly, stacks: readonly string[]): void {
    for (const stack of stacks) {
      for (const [logicalId, resource] of assembly.resources(stack, 'AWS::SSM::Parameter')) {
        const name = String(assembly.resolve(stack, { Ref: logicalId }));
        this.putParameter(name, String(assembly.resolve(stack, resource.Properties?.Value)), 'cdk deploy');
      }
    }
  }

  /** An SSM parameter's versions, oldest first. */
  parameterVersions(name: string): { version: number; value: string; at: number; user: string }[] {
    const path = this.parameterPath(name);
    return existsSync(path)
      ? readFileSync(path, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { version: number; value: string; at: number; user: string })
      : [];
  }

  /** Writes the parameter's next version; answers its number. */
  putParameter(name: string, value: string, user: string): number {
    const version = (this.parameterVersions(name).at(-1)?.version ?? 0) + 1;
    writeFileSync(this.parameterPath(name), `${JSON.stringify({ version, value, at: Date.now(), user })}\n`, {
      flag: 'a',
    });
    return version;
  }

  /** The CloudWatch Logs events put in a group, oldest first. */
  logEvents(group: string): { stream: string; timestamp: number; message: string }[] {
    const path = join(this.folder, 'logs', `${encodeURIComponent(group)}.jsonl`);
    return existsSync(path)
      ? readFileSync(path, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { stream: string; timestamp: number; message: string })
      : [];
  }

  /** What Lambda's Invoke of `functionName` runs (the event, as JSON; answers the function's result). */
  onInvoke(functionName: string, run: (payload: unknown) => Promise<unknown>): void {
    this.lambdas.set(functionName, run);
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
   * The AWS APIs the Lambda functions and the operator's command line call, over HTTP from
   * the same folder, on one endpoint: the SDKs reach it through AWS_ENDPOINT_URL_<SERVICE>
   * (SECRETS_MANAGER, SSM, CLOUDWATCH_LOGS, LAMBDA, STS, CLOUDFORMATION; `awsEndpoints`).
   * Secrets Manager's GetSecretValue; SSM's GetParameter, PutParameter and
   * GetParameterHistory; CloudWatch Logs' CreateLogStream and PutLogEvents; Lambda's
   * Invoke (what `onInvoke` registered); STS's GetCallerIdentity; CloudFormation's
   * DescribeStacks (the stacks' outputs, as `outputs` answers them).
   */
  async serveApis(host: string, outputs: (stack: string) => Record<string, string> | undefined): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.answer(req.method ?? 'GET', req.url ?? '/', String(req.headers['x-amz-target'] ?? ''), body, outputs)
          .then(({ status, type, text, headers }) => {
            res.writeHead(status, { 'content-type': type, ...headers });
            res.end(text);
          })
          .catch((error: Error) => {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ __type: 'InternalFailure', message: error.message }));
          });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    const address = this.server.address();
    return `http://${host}:${typeof address === 'object' && address ? address.port : 0}`;
  }

  private async answer(
    method: string,
    url: string,
    target: string,
    body: string,
    outputs: (stack: string) => Record<string, string> | undefined,
  ): Promise<{ status: number; type: string; text: string; headers?: Record<string, string> }> {
    const json = (status: number, value: unknown) => ({
      status,
      type: 'application/x-amz-json-1.1',
      text: JSON.stringify(value),
    });
    const xml = (status: number, text: string) => ({ status, type: 'text/xml', text });
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(url);
    if (method === 'POST' && invoke) {
      const run = this.lambdas.get(decodeURIComponent(invoke[1]));
      if (!run)
        return {
          status: 404,
          type: 'application/json',
          text: JSON.stringify({ Type: 'User', message: `Function not found: ${invoke[1]}` }),
          headers: { 'x-amzn-errortype': 'ResourceNotFoundException' },
        };
      try {
        const result = await run(JSON.parse(body || '{}'));
        return { status: 200, type: 'application/json', text: JSON.stringify(result ?? null) };
      } catch (error) {
        return {
          status: 200,
          type: 'application/json',
          text: JSON.stringify({ errorMessage: (error as Error).message }),
          headers: { 'x-amz-function-error': 'Unhandled' },
        };
      }
    }
    if (!target) {
      // The query protocol (STS, CloudFormation): a form.
      const form = new URLSearchParams(body);
      const action = form.get('Action');
      if (action === 'GetCallerIdentity')
        return xml(
          200,
          `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${REHEARSAL_OPERATOR}</Arn><UserId>AIDAREHEARSAL</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        );
      if (action === 'DescribeStacks') {
        const name = form.get('StackName') ?? '';
        const found = outputs(name);
        if (!found)
          return xml(
            400,
            `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${escapeXml(name)} does not exist</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
          );
        const members = Object.entries(found)
          .map(
            ([key, value]) =>
              `<member><OutputKey>${escapeXml(key)}</OutputKey><OutputValue>${escapeXml(value)}</OutputValue></member>`,
          )
          .join('');
        return xml(
          200,
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${escapeXml(name)}</StackName><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${escapeXml(name)}/rehearsal</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
      }
      return xml(
        400,
        `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not a stand-in for ${escapeXml(String(action))}</Message></Error></ErrorResponse>`,
      );
    }
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    switch (target) {
      case 'secretsmanager.GetSecretValue': {
        const SecretId = String(input.SecretId);
        if (!existsSync(this.secretPath(SecretId)))
          return json(400, {
            __type: 'ResourceNotFoundException',
            message: `Secrets Manager can't find the specified secret: ${SecretId}`,
          });
        return json(200, {
          ARN: SecretId,
          Name: SecretId.split(':secret:')[1],
          SecretString: this.secret(SecretId),
          VersionId: randomUUID(),
          VersionStages: ['AWSCURRENT'],
        });
      }
      case 'AmazonSSM.GetParameter':
      case 'AmazonSSM.GetParameterHistory': {
        const name = String(input.Name);
        const versions = this.parameterVersions(name);
        if (versions.length === 0) return json(400, { __type: 'ParameterNotFound', message: `${name} not found` });
        const shape = (v: (typeof versions)[number]) => ({
          Name: name,
          Type: 'String',
          Value: v.value,
          Version: v.version,
          LastModifiedDate: v.at / 1000,
          LastModifiedUser: v.user,
          DataType: 'text',
        });
        return target === 'AmazonSSM.GetParameter'
          ? json(200, { Parameter: shape(versions.at(-1)!) })
          : json(200, { Parameters: versions.map(shape) });
      }
      case 'AmazonSSM.PutParameter': {
        const name = String(input.Name);
        if (this.parameterVersions(name).length > 0 && input.Overwrite !== true)
          return json(400, { __type: 'ParameterAlreadyExists', message: `${name} exists` });
        return json(200, {
          Version: this.putParameter(name, String(input.Value), REHEARSAL_OPERATOR),
          Tier: 'Standard',
        });
      }
      case 'Logs_20140328.CreateLogStream':
        return json(200, {});
      case 'Logs_20140328.PutLogEvents': {
        const events = (input.logEvents ?? []) as { timestamp: number; message: string }[];
        const lines = events.map((e) => JSON.stringify({ stream: input.logStreamName, ...e })).join('\n');
        writeFileSync(
          join(this.folder, 'logs', `${encodeURIComponent(String(input.logGroupName))}.jsonl`),
          `${lines}\n`,
          {
            flag: 'a',
          },
        );
        return json(200, {});
      }
      default:
        return json(400, { __type: 'InvalidRequestException', message: `not a stand-in for ${target}` });
    }
  }

  close(): void {
    this.server?.close();
    rmSync(this.folder, { recursive: true, force: true });
  }

  private parameterPath(name: string): string {
    if (!/^[A-Za-z0-9_.\-/]+$/.test(name)) throw new Error(`not a parameter name of the rehearsal: ${name}`);
    return join(this.folder, 'ssm', `${encodeURIComponent(name)}.jsonl`);
  }

  private secretPath(arn: string): string {
    const name = arn.split(':secret:')[1];
    if (!name || !/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`not a secret ARN of the rehearsal: ${arn}`);
    return join(this.folder, 'secrets', name);
  }
}

/** Who the operator is in the rehearsal (STS GetCallerIdentity's answer). */
export const REHEARSAL_OPERATOR = 'arn:aws:iam::123456789012:user/rehearsal-operator';

/** The environment that points an AWS SDK at the stand-ins' endpoint, for every service they stand in for. */
export function awsEndpoints(endpoint: string): Record<string, string> {
  return Object.fromEntries(
    ['SECRETS_MANAGER', 'SSM', 'CLOUDWATCH_LOGS', 'LAMBDA', 'STS', 'CLOUDFORMATION'].map((service) => [
      `AWS_ENDPOINT_URL_${service}`,
      endpoint,
    ]),
  );
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
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
