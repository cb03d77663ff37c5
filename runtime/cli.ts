import { appendFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { RedisStateStore, type StateStore } from '../lambdas/state';
import { HttpStateStore } from '../local/shared-state';
import { FolderObjectStore, S3ObjectStore, type ObjectStore } from '../storage-agent/object-store';

/** The flags both node processes take. */
export const NODE_FLAGS = {
  id: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '0' },
  slots: { type: 'string', default: '2' },
  state: { type: 'string' },
  objects: { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-bucket': { type: 'string', default: 'strata-data' },
  'emf-file': { type: 'string' },
  'invocation-log': { type: 'string' },
  'heartbeat-ms': { type: 'string', default: '1000' },
  help: { type: 'boolean', default: false },
} as const;

/** Parses argv with the node flags and a process's own; exits 2 with the usage on a bad or missing flag. */
export function parseFlags<const O extends ParseArgsOptionsConfig>(options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ options: { ...NODE_FLAGS, ...options }, strict: true, allowPositionals: false });
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${usage}`);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help) exitWith(0, usage);
  if (!values.id) exitWith(2, `--id is required\n\n${usage}`);
  if (!values.state) exitWith(2, `--state is required: redis://host:port, or the http:// address of a local cluster's state\n\n${usage}`);
  return parsed.values;
}

/** The options every node takes, from the common flags: connects to the shared state. */
export async function commonNodeOptions(values: {
  id?: string;
  host?: string;
  port?: string;
  slots?: string;
  state?: string;
  objects?: string;
  's3-endpoint'?: string;
  's3-bucket'?: string;
  'emf-file'?: string;
  'heartbeat-ms'?: string;
}) {
  return {
    id: values.id!,
    host: values.host,
    port: wholeNumber('port', values.port ?? '0', 0),
    slots: wholeNumber('slots', values.slots ?? '2', 1),
    heartbeatIntervalMs: wholeNumber('heartbeat-ms', values['heartbeat-ms'] ?? '1000', 1),
    store: await connectState(values.state!),
    objects: objectStoreFrom(values),
    emf: lineFile(values['emf-file']),
  };
}

export function wholeNumber(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) exitWith(2, `--${flag} must be a whole number of at least ${min}, got "${text}"`);
  return value;
}

export async function connectState(url: string): Promise<StateStore> {
  if (url.startsWith('http://')) return new HttpStateStore(url);
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return RedisStateStore.connect({ url });
  return exitWith(2, `--state must be a redis://, rediss:// or http:// address, got "${url}"`);
}

export function objectStoreFrom(values: { objects?: string; 's3-endpoint'?: string; 's3-bucket'?: string }): ObjectStore {
  if (values['s3-endpoint']) return new S3ObjectStore({ endpoint: values['s3-endpoint'], bucket: values['s3-bucket'] ?? 'strata-data' });
  if (values.objects) return new FolderObjectStore(values.objects);
  return exitWith(2, 'one of --objects DIR or --s3-endpoint URL is required');
}

/** JSON lines appended to a file (EMF records for the CloudWatch agent, the invocation log). */
export function lineFile(path: string | undefined): ((line: string) => void) | undefined {
  return path ? (line) => appendFileSync(path, `${line}\n`) : undefined;
}

/** Drains on SIGTERM or SIGINT (finishing the work in hand), then exits. */
export function drainOnSignals(node: { drain(): Promise<void> }): void {
  let draining = false;
  const stop = () => {
    if (draining) return;
    draining = true;
    node.drain().then(
      () => process.exit(0),
      (error: Error) => exitWith(1, `drain failed: ${error.message}`),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

export function exitWith(code: number, message: string): never {
  (code === 0 ? process.stdout : process.stderr).write(`${message}\n`);
  process.exit(code);
}
