import { type ParseArgsConfig, parseArgs } from 'node:util';
import { connectState, exitWith, lineFile, objectStoreFrom, wholeNumber } from '../common/cli';
import { BUILTIN_NAMES } from '../common/functions/builtins';
import { codeStoreAt } from '../common/functions/code-store';
import { FunctionRegistry } from '../common/functions/registry';
import { NODE_DEFAULTS } from '../common/settings';
import { MEASURE_SCOPES, type MeasureScope } from './metrics-agent/proc';
import { checkPeerRule, type PeerRule } from './peers';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Where a node finds the state store's URL: the environment, since the URL may hold its user's password. */
export const STATE_URL_VARIABLE = 'STRATA_STATE_URL';

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
  peers: { type: 'string' },
  'peer-ports': { type: 'string' },
  /** What the metrics agent measures: the host (the default), or this process alone (nodes sharing one machine). */
  measure: { type: 'string', default: 'host' },
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
  // A URL with a password comes from the environment: a flag would show it in ps.
  values.state ??= process.env[STATE_URL_VARIABLE];
  if (!values.state)
    exitWith(
      2,
      `the state store is required: ${STATE_URL_VARIABLE} in the environment (or --state): redis://host:port, rediss://user:password@host:port, or the http:// address of a local cluster's state\n\n${usage}`,
    );
  return parsed.values as typeof parsed.values & { state: string };
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
  peers?: string;
  'peer-ports'?: string;
  functions?: string;
  'functions-endpoint'?: string;
  measure?: string;
}) {
  const measure = (values.measure ?? 'host') as MeasureScope;
  if (!MEASURE_SCOPES.includes(measure))
    exitWith(2, `--measure must be one of ${MEASURE_SCOPES.join(', ')}; got "${values.measure}"`);
  let peers: PeerRule | undefined;
  try {
    peers = values.peers
      ? checkPeerRule({
          cidrs: values.peers.split(','),
          ports: values['peer-ports']?.split(',').map((port) => wholeNumber('peer-ports', port, 1)),
        })
      : undefined;
  } catch (error) {
    return exitWith(2, `--peers: ${(error as Error).message}`);
  }
  return {
    peers,
    id: values.id!,
    host: values.host,
    port: wholeNumber('port', values.port ?? '0', 0),
    slots: wholeNumber('slots', values.slots ?? String(NODE_DEFAULTS.slots), 1),
    heartbeatIntervalMs: wholeNumber('heartbeat-ms', values['heartbeat-ms'] ?? String(NODE_DEFAULTS.heartbeatMs), 1),
    store: await connectState(values.state!),
    objects: objectStoreFrom(values),
    emf: lineFile(values['emf-file']),
    measure,
    registry: values.functions
      ? new FunctionRegistry(codeStoreAt(values.functions, { endpoint: values['functions-endpoint'] }), BUILTIN_NAMES)
      : undefined,
  };
}

/**
 * A background task's error logger that writes a message once while it repeats (`WHAT: message`
 * on stderr): Ceph or the state store down for a while is one line, not one a tick.
 */
export function logEachNewError(what: string): (error: Error) => void {
  let last = '';
  return (error) => {
    if (error.message !== last) process.stderr.write(`${what}: ${error.message}\n`);
    last = error.message;
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
  // Started with an IPC channel (by npm start's launcher, local/cluster.ts): it closes when
  // the launcher ends, however it ends (a SIGKILL, a crash on a closed stdout), and the node then goes too.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', stop);
  }
}
