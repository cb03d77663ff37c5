import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { proxyEvent } from '../api-adapter';
import type { Host, HostNetwork } from '../emulated-hosts';

const REPLY = 'STRATA-REHEARSAL-REPLY ';

/** The Lambda runtime's part: a warm container that takes events on stdin (a JSON line each) and answers each, marked, on stdout. */
const RUNNER = `const { handler } = require('/var/task/index.js');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, event } = JSON.parse(line);
  Promise.resolve().then(() => handler(event)).then(
    (reply) => process.stdout.write('${REPLY}' + JSON.stringify({ id, reply }) + '\\n'),
    (error) => process.stdout.write('${REPLY}' + JSON.stringify({ id, error: String((error && error.stack) || error) }) + '\\n'));
});
`;

export interface InvokeReply {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface DispatcherOptions {
  readonly network: HostNetwork;
  readonly image: string;
  readonly address: string;
  /** The function's environment from its template. */
  readonly environment: Record<string, string>;
  /** The asset folders of the function's code and of the policy layer. */
  readonly codeDir: string;
  readonly layerDir: string;
  /** What the Lambda runtime provides (the AWS SDK): this project's node_modules. */
  readonly runtimeModules: string;
  readonly awsFolder: string;
  readonly region: string;
  /** The AWS stand-ins' endpoint (Secrets Manager for the state store's token, SSM for the policy setting). */
  readonly awsEndpoint: string;
  readonly caCertificate: string;
  readonly hostsFile: string;
}

/**
 * The dispatcher Lambda in the VPC: its bundle at /var/task and the policy layer at /opt,
 * as Lambda lays them out, with the layer first on NODE_PATH, the environment of its
 * template, and its own state store user's secret read through Secrets Manager (the stand-in).
 * One warm container in an emulated host of its own.
 */
export class DispatcherLambda {
  private readonly pending = new Map<number, (reply: { reply?: InvokeReply; error?: string }) => void>();
  private nextId = 1;
  readonly logs: string[] = [];

  private constructor(
    readonly host: Host,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(REPLY)) return void this.logs.push(line);
      const { id, ...reply } = JSON.parse(line.slice(REPLY.length)) as {
        id: number;
        reply?: InvokeReply;
        error?: string;
      };
      this.pending.get(id)?.(reply);
      this.pending.delete(id);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => this.logs.push(line));
  }

  static async start(options: DispatcherOptions): Promise<DispatcherLambda> {
    const host = await options.network.start({
      name: 'lambda',
      address: options.address,
      image: options.image,
      binds: [
        { source: options.codeDir, target: '/var/task', readOnly: true },
        { source: options.layerDir, target: '/opt', readOnly: true },
        { source: options.runtimeModules, target: '/var/runtime/node_modules', readOnly: true },
        { source: options.awsFolder, target: '/run/strata-aws', readOnly: true },
      ],
      files: {
        '/etc/hosts': options.hostsFile,
        '/var/runtime/strata-runner.js': RUNNER,
        '/etc/strata-rehearsal/ca.crt': options.caCertificate,
      },
    });
    const child = host.spawn(['/run/strata-aws/bin/node', '/var/runtime/strata-runner.js'], {
      ...options.environment,
      AWS_REGION: options.region,
      AWS_DEFAULT_REGION: options.region,
      AWS_ACCESS_KEY_ID: 'ASIAREHEARSAL0000000',
      AWS_SECRET_ACCESS_KEY: 'rehearsal',
      AWS_SESSION_TOKEN: 'rehearsal',
      AWS_LAMBDA_FUNCTION_NAME: 'StrataDispatch-Dispatcher',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: options.awsEndpoint,
      AWS_ENDPOINT_URL_SSM: options.awsEndpoint,
      NODE_PATH: '/opt/nodejs/node_modules:/var/runtime/node_modules',
      NODE_EXTRA_CA_CERTS: '/etc/strata-rehearsal/ca.crt', // Lambda trusts Amazon's CA; here the rehearsal's stands for it
      LAMBDA_TASK_ROOT: '/var/task',
    });
    return new DispatcherLambda(host, child);
  }

  /** POST /invoke/FUNCTION with a JSON body, as API Gateway hands it to the handler. */
  invoke(functionName: string, body: unknown, timeoutMs = 60_000): Promise<InvokeReply> {
    const event = proxyEvent({
      method: 'POST',
      url: `/invoke/${functionName}`,
      rawHeaders: ['content-type', 'application/json'],
      body: Buffer.from(JSON.stringify(body)),
    });
    return this.invokeEvent(event, timeoutMs) as Promise<InvokeReply>;
  }

  /** Any event, as Lambda's Invoke hands it to the handler (the policy setting's publish, from `strata policy set`). */
  invokeEvent(event: unknown, timeoutMs = 60_000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `the dispatcher did not answer within ${timeoutMs} ms; its last output:\n${this.logs.slice(-10).join('\n')}`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, ({ reply, error }) => {
        clearTimeout(timer);
        if (error === undefined) resolve(reply);
        else reject(new Error(`the handler threw: ${error}`));
      });
      this.child.stdin!.write(`${JSON.stringify({ id, event })}\n`);
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/** The project's node_modules: what the Lambda runtime provides (the AWS SDK) in the rehearsal. */
export const PROJECT_MODULES = join(__dirname, '..', '..', 'node_modules');
