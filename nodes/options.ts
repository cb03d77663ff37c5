import { type ParseArgsConfig, parseArgs } from 'node:util';
import { connectState, exitWith, lineFile, objectStoreFrom, wholeNumber } from '../common/cli';
import { BUILTIN_NAMES } from '../common/functions/builtins';
import { codeStoreAt } from '../common/functions/code-store';
import { FunctionRegistry } from '../common/functions/registry';
import { NODE_DEFAULTS } from '../common/settings';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** The flags both node processes take. */
export const NODE_FLAGS = {
  id: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '0' },
  slots: { type: 'string', default: String(NODE_DEFAULTS.slots) },
  state: { type: 'string' },
  objects: { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-bucket': { type: 'string', default: NODE_DEFAULTS.bucket },
  'emf-file': { type: 'string' },
  'invocation-log': { type: 'string' },
  'heartbeat-ms': { type: 'string', default: String(NODE_DEFAULTS.heartbeatMs) },
  /** Users' functions: a folder, or s3://BUCKET (the function code bucket on AWS). */
  functions: { type: 'string' },
  /** The S3 endpoint of the functions' bucket, when it is not AWS's (the rehearsal's RGW). */
  'functions-endpoint': { type: 'string' },
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
  if (!values.state)
    exitWith(
      2,
      `--state is required: redis://host:port, or the http:// address of a local cluster's state\n\n${usage}`,
    );
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
  functions?: string;
  'functions-endpoint'?: string;
}) {
  return {
    id: values.id!,
    host: values.host,
    port: wholeNumber('port', values.port ?? '0', 0),
    slots: wholeNumber('slots', values.slots ?? String(NODE_DEFAULTS.slots), 1),
    heartbeatIntervalMs: wholeNumber('heartbeat-ms', values['heartbeat-ms'] ?? String(NODE_DEFAULTS.heartbeatMs), 1),
    store: await connectState(values.state!),
    objects: objectStoreFrom(values),
    emf: lineFile(values['emf-file']),
    registry: values.functions
      ? new FunctionRegistry(codeStoreAt(values.functions, { endpoint: values['functions-endpoint'] }), BUILTIN_NAMES)
      : undefined,
  };
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
