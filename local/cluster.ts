import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { OffloadThresholds } from '@strata/policy-engine';
import { BUILTIN_NAMES } from '../common/functions/builtins';
import { FolderCodeStore } from '../common/functions/code-store';
import { FunctionDirectory, MemoryRegistryCache, RedisRegistryCache } from '../common/functions/directory';
import { FunctionRegistry } from '../common/functions/registry';
import { TierPolicy } from '../common/live-policy';
import { type PluginModule, registerPluginModules } from '../common/plugins';
import { PolicyFaultReporter } from '../common/policy-faults';
import { fileSettingSource, LivePolicies } from '../common/policy-setting';
import { LearningSync } from '../common/shared-learning';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../common/state';
import type { StateRole } from '../common/state/access';
import { Dispatcher, type DispatchObserver, learningObserver } from '../lambdas/dispatcher/dispatcher';
import { FunctionsApi } from '../lambdas/functions-api/functions-api';
import { serveApi } from './api-adapter';
import { serveStateStore } from './shared-state';
import { LocalTelemetry } from './telemetry';

export interface LocalClusterOptions {
  /** @default 3 */
  readonly computeNodes?: number;
  /** @default 1 */
  readonly storageNodes?: number;
  /** Execution slots per node, or per compute node in turn (heterogeneous nodes). @default 2 */
  readonly slots?: number | readonly number[];
  /** The storage nodes' slots (data stages at once). @default the first compute node's */
  readonly storageSlots?: number;
  /**
   * Users' functions (docs/functions.md): the folder of the durable registry, which the
   * API's /functions routes write and the nodes read. @default none: built-ins only, and
   * the /functions routes answer 404
   */
  readonly functionsFolder?: string;
  /** A real Redis for the shared state. @default the embedded store, served to the nodes on loopback */
  readonly redisUrl?: string;
  /**
   * With redisUrl: each role's own user there (common/state/access.ts), as on AWS: the
   * dispatcher, the functions API and each node connect as theirs, and redisUrl is the
   * harness's own (its reads, the telemetry's INFO). @default everything connects with redisUrl
   */
  readonly redisUsers?: Readonly<Record<StateRole, string>>;
  /** Objects in a folder, or in an S3 API (Ceph's RGW) at this endpoint. */
  readonly objects:
    | { readonly folder: string }
    | {
        readonly s3Endpoint: string;
        readonly bucket: string;
        readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
      };
  /** @default 'round-robin' */
  readonly strategy?: string;
  /** The strategy's options. @default its defaults */
  readonly strategyOptions?: Readonly<Record<string, unknown>>;
  /** The node policy's options. @default its defaults */
  readonly nodePolicyOptions?: Readonly<Record<string, unknown>>;
  /** The live policy setting's file (strata policy set --local): the dispatcher and the nodes follow it. @default none */
  readonly policyFile?: string;
  /** Plugins (absolute module paths) the dispatcher and the compute nodes register. @default none */
  readonly plugins?: readonly PluginModule[];
  /** @default 'most-slots' */
  readonly nodePolicy?: string;
  /** @default 'thresholds' */
  readonly offloadPolicy?: string;
  /** What the compute nodes' offload policy uses. @default AutoNDP's 0.8 / 0.8 / 0.8 */
  readonly offloadThresholds?: Partial<OffloadThresholds>;
  /** Over these the storage agents refuse data stages. @default offloadThresholds */
  readonly storageThresholds?: Partial<OffloadThresholds>;
  /** The compute nodes queue what no peer takes, up to this many each, instead of refusing after 500 ms (nodes' --queue). */
  readonly nodeQueue?: number;
  /** The compute nodes find a peer by asking each for its slots, as faabric did (nodes' --ask-peers). @default false */
  readonly askPeers?: boolean;
  /**
   * Tier 3 by locality: the compute nodes' --locality (nodes/compute/locality.ts): \`state\` reads
   * the placement map the storage nodes publish (publishPlacement, and redisUrl), an object the
   * ceph CLI's flag. @default off
   */
  readonly locality?: 'state' | { readonly bucketMarker: string; readonly pool?: string; readonly cephConf?: string };
  /** The storage nodes publish the data pool's placement map (their --publish-placement, nodes/storage/placement.ts). @default off */
  readonly publishPlacement?: {
    readonly bucket: string;
    readonly pool?: string;
    readonly cephConf?: string;
    readonly intervalMs?: number;
  };
  /** Compute nodes that skip warming their local path of the data stages (nodes' --cold), for comparison. @default false */
  readonly coldLocalPath?: boolean;
  /** @default 1000 */
  readonly heartbeatMs?: number;
  /** Port of the API adapter. @default any free port */
  readonly port?: number;
  /** How long the dispatcher queues an invocation while every node is full. @default 10000 */
  readonly queueTimeoutMs?: number;
  readonly observer?: DispatchObserver;
  /**
   * Where the EMF records go, each source a `*.emf.jsonl` file, for the dashboard: the
   * nodes', the dispatcher's, and what AWS would publish for API Gateway, Lambda, the
   * group, ElastiCache and Ceph; and the compute nodes' invocation logs.
   */
  readonly metricsDir?: string;
  /** A Ceph whose health the storage nodes' health script reports (with metricsDir). */
  readonly cephConf?: string;
  /**
   * Where each node runs: its address and a command prefix (an emulated host's, see
   * local/emulated-fleet.ts), and the S3 endpoint it reads at. @default this machine, on loopback
   */
  readonly nodeHost?: (id: string) => {
    readonly address: string;
    readonly commandPrefix: readonly string[];
    readonly s3Endpoint?: string;
    /** The host's CPU quota, cores; the start's time limit grows as it shrinks. @default a whole machine */
    readonly cpu?: number;
  };
}

const ROOT = join(__dirname, '..');

/**
 * The whole system on loopback: the dispatcher behind the API Gateway adapter in this
 * process, and each compute and storage node as a process of its own.
 */
export class LocalCluster {
  readonly processes = new Map<string, ChildProcess>();
  private readonly servers: Server[] = [];
  private readonly stores: StateStore[] = [];
  private telemetry: LocalTelemetry | undefined;
  // Node.js 20 is supported here; one AWS SDK notice about it, from this process, is enough.
  private nodeEnv: Record<string, string> = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  /** The state URL of each node role, when each connects as its own user. */
  private nodeStateUrls: Partial<Record<'compute' | 'storage', string>> = {};

  private constructor(
    readonly url: string,
    readonly dispatcher: Dispatcher,
    readonly state: StateStore,
    private readonly heartbeatMs: number,
    private readonly nodeHost?: LocalClusterOptions['nodeHost'],
  ) {}

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const heartbeatMs = options.heartbeatMs ?? 1000;
    // The dispatcher's own connection, and what the nodes are told to use.
    let state: StateStore;
    let stateUrl: string;
    const servers: Server[] = [];
    if (options.redisUrl) {
      state = await RedisStateStore.connect({ url: options.redisUrl });
      stateUrl = options.redisUrl;
    } else {
      state = new MemoryStateStore();
      const served = await serveStateStore(state);
      servers.push(served.server);
      stateUrl = served.url;
    }
    const strategyName = options.strategy ?? 'round-robin';
    await registerPluginModules((options.plugins ?? []).filter((plugin) => plugin.tier === 'invocation'));
    const redisUrl = options.redisUrl;
    if (options.metricsDir) mkdirSync(options.metricsDir, { recursive: true });
    const telemetry = options.metricsDir
      ? new LocalTelemetry({ metricsDir: options.metricsDir, redisUrl, cephConf: options.cephConf, heartbeatMs })
      : undefined;
    // Users' functions: the registry in a folder, its table cached where the dispatcher's state is.
    const registry = options.functionsFolder
      ? new FunctionRegistry(new FolderCodeStore(options.functionsFolder), BUILTIN_NAMES)
      : undefined;
    const registryCache =
      state instanceof RedisStateStore
        ? new RedisRegistryCache((command) => (state as RedisStateStore).command(command))
        : new MemoryRegistryCache();
    // With a user per role, the dispatcher's and the functions API's caches each on a connection as their user.
    const users = options.redisUrl ? options.redisUsers : undefined;
    const connections: RedisStateStore[] = [];
    const cacheAs = async (role: 'dispatcher' | 'functions-api') => {
      if (!users) return registryCache;
      const store = await RedisStateStore.connect({ url: users[role] });
      connections.push(store);
      return new RedisRegistryCache((command) => store.command(command));
    };
    const functionsApi =
      registry &&
      new FunctionsApi(registry, await cacheAs('functions-api'), (entry) => {
        if (options.metricsDir)
          appendFileSync(
            join(options.metricsDir, 'functions-audit.jsonl'),
            `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`,
          );
      });
    const stderrFaults = new PolicyFaultReporter({
      count: () => {},
      log: (message, fields) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
    });
    const tier1 =
      telemetry?.strategy(strategyName, { ...options.strategyOptions }) ??
      new TierPolicy('invocation', { name: strategyName, options: options.strategyOptions ?? {} }, (...fault) =>
        stderrFaults.report(...fault),
      );
    // The live setting (strata policy set --local): read at most once a heartbeat interval, before a decision.
    const live =
      options.policyFile === undefined
        ? undefined
        : new LivePolicies(fileSettingSource(options.policyFile), [tier1], {
            intervalMs: heartbeatMs,
            log: (message) => process.stderr.write(`dispatcher: ${message}\n`),
          });
    await live?.refresh();
    const dispatcher = new Dispatcher({
      functions: new FunctionDirectory({ cache: await cacheAs('dispatcher'), registry, refreshMs: heartbeatMs }),
      // The strategy in use now (it follows the live setting): what the tier-1 header and the metrics name.
      get strategyName() {
        return tier1.choice.name;
      },
      strategy: tier1.policy,
      // With Redis, the dispatcher connects as the Lambda does (and reconnects after a failure).
      connect: redisUrl ? () => RedisStateStore.connect({ url: users?.dispatcher ?? redisUrl }) : async () => state,
      refreshMs: heartbeatMs,
      queueTimeoutMs: options.queueTimeoutMs,
      heartbeatTtlMs: 3 * heartbeatMs,
      // A learning strategy (adaptive) hears each dispatch's latency.
      observer: learningObserver(
        (telemetry ? telemetry.observer(options.observer) : options.observer) ?? {},
        tier1.policy,
      ),
    });
    // With Redis, what the adaptive strategy learns is kept there, as every Lambda dispatcher keeps it (as its user).
    let learningStore: RedisStateStore | undefined;
    if (users) {
      learningStore = await RedisStateStore.connect({ url: users.dispatcher });
      connections.push(learningStore);
    } else if (state instanceof RedisStateStore) learningStore = state;
    const learningSync =
      learningStore &&
      new LearningSync(
        (args) => learningStore.command(args),
        () => tier1.policy.learning,
        {
          intervalMs: heartbeatMs,
          log: (message) => process.stderr.write(`dispatcher: ${message}\n`),
        },
      );
    const api = await serveApi(async (event) => {
      await live?.refresh();
      await learningSync?.refresh();
      return functionsApi && /^\/functions(\/|$)/.test(event.path)
        ? functionsApi.handle(event)
        : telemetry
          ? telemetry.invoke(dispatcher, event)
          : dispatcher.handle(event);
    }, options.port).catch(async (error: Error) => {
      await telemetry?.stop(); // give stdout back
      throw error;
    });
    servers.push(api.server);
    const cluster = new LocalCluster(api.url, dispatcher, state, heartbeatMs, options.nodeHost);
    cluster.telemetry = telemetry;
    // The nodes find S3 keys where the AWS SDK looks for them.
    if ('credentials' in options.objects && options.objects.credentials) {
      Object.assign(cluster.nodeEnv, {
        AWS_ACCESS_KEY_ID: options.objects.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: options.objects.credentials.secretAccessKey,
      });
    }
    cluster.servers.push(...servers);
    cluster.stores.push(state, ...connections);
    if (users) cluster.nodeStateUrls = { compute: users.compute, storage: users.storage };

    const objectFlags = (id: string) =>
      'folder' in options.objects
        ? ['--objects', options.objects.folder]
        : [
            '--s3-endpoint',
            options.nodeHost?.(id).s3Endpoint ?? options.objects.s3Endpoint,
            '--s3-bucket',
            options.objects.bucket,
          ];
    // The state URL holds the state server's token (or Redis's password): the environment, not argv.
    cluster.nodeEnv.STRATA_STATE_URL = stateUrl;
    const common = (id: string) => [
      '--id',
      id,
      '--heartbeat-ms',
      String(heartbeatMs),
      ...objectFlags(id),
      ...(options.functionsFolder ? ['--functions', options.functionsFolder] : []),
      // A host of its own measures itself as a host; plain processes on this one machine
      // measure only themselves, or every node would count every other node's work.
      ...(options.nodeHost ? ['--host', options.nodeHost(id).address] : ['--measure', 'process']),
      ...(options.metricsDir ? ['--emf-file', join(options.metricsDir, `${id}.emf.jsonl`)] : []),
    ];
    const slotsOf = (i: number) =>
      typeof options.slots === 'object' ? options.slots[i % options.slots.length] : (options.slots ?? 2);
    const thresholds = JSON.stringify(options.offloadThresholds ?? {});
    const nodePlugins = (options.plugins ?? []).filter((plugin) => plugin.tier !== 'invocation');
    const storageThresholds = JSON.stringify(options.storageThresholds ?? options.offloadThresholds ?? {});
    try {
      await Promise.all([
        ...range(options.storageNodes ?? 1).map((i) =>
          cluster.spawnNode(`s${i + 1}`, 'nodes/storage/main.ts', [
            ...common(`s${i + 1}`),
            '--slots',
            String(options.storageSlots ?? slotsOf(0)),
            '--thresholds',
            storageThresholds,
            ...(options.publishPlacement ? ['--publish-placement', JSON.stringify(options.publishPlacement)] : []),
          ]),
        ),
        ...range(options.computeNodes ?? 3).map((i) =>
          cluster.spawnNode(`c${i + 1}`, 'nodes/compute/main.ts', [
            ...common(`c${i + 1}`),
            '--slots',
            String(slotsOf(i)),
            '--node-policy',
            options.nodePolicy ?? 'most-slots',
            '--node-options',
            JSON.stringify(options.nodePolicyOptions ?? {}),
            '--offload-policy',
            options.offloadPolicy ?? 'thresholds',
            '--offload-options',
            (options.offloadPolicy ?? 'thresholds') === 'thresholds' ? thresholds : '{}',
            ...(nodePlugins.length > 0 ? ['--plugins', JSON.stringify(nodePlugins)] : []),
            ...(options.policyFile === undefined ? [] : ['--policy-file', options.policyFile]),
            ...(options.nodeQueue === undefined ? [] : ['--queue', String(options.nodeQueue)]),
            ...(options.coldLocalPath ? ['--cold'] : []),
            ...(options.askPeers ? ['--ask-peers'] : []),
            ...(options.locality
              ? ['--locality', options.locality === 'state' ? 'state' : JSON.stringify(options.locality)]
              : []),
            ...(options.metricsDir
              ? ['--invocation-log', join(options.metricsDir, `c${i + 1}.invocations.jsonl`)]
              : []),
          ]),
        ),
      ]);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    telemetry?.watchGroup(state, () => options.computeNodes ?? 3);
    return cluster;
  }

  /** Starts one node process and waits for its "ready" line. */
  async spawnNode(id: string, entry: string, args: string[]): Promise<ChildProcess> {
    const host = this.nodeHost?.(id);
    const [file, ...prefix] = host?.commandPrefix ?? [];
    const argv = [process.execPath, '--import', 'tsx', join(ROOT, entry), ...args];
    const child = spawn(file ?? argv[0], [...prefix, ...(file ? argv : argv.slice(1))], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...this.nodeEnv,
        ...(this.nodeStateUrls[roleOf(entry)] ? { STRATA_STATE_URL: this.nodeStateUrls[roleOf(entry)] } : {}),
      },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'], // the channel closes when this process ends: the node drains and exits
    });
    this.processes.set(id, child);
    // Loading the node (tsx compiles it) is CPU work: 30 s of a core, stretched on a host with less.
    const limitS = Math.round(30 / Math.min(1, host?.cpu ?? 1));
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error(`node ${id} did not start within ${limitS} s`)), limitS * 1000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        if (line.startsWith('ready ')) resolve();
        else reject(new Error(`node ${id} said "${line}" instead of ready`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${id} exited with ${code} before it was ready`));
      });
    });
    return child;
  }

  /** Waits until the shared state lists every node process as live. */
  async waitForNodes(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = new Set((await this.state.liveNodes()).filter((n) => !n.draining).map((n) => n.id));
      if ([...this.processes.keys()].every((id) => live.has(id))) {
        // One more interval, so that every node has refreshed its view of the others too.
        return new Promise((resolve) => setTimeout(resolve, this.heartbeatMs + 100));
      }
      if (Date.now() > deadline)
        throw new Error(
          `nodes not live after ${timeoutMs} ms: ${[...this.processes.keys()].filter((id) => !live.has(id)).join(', ')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops every node (SIGTERM: they drain) and every server this cluster started. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.processes.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const server of this.servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.telemetry?.stop();
    await this.dispatcher.close();
    await Promise.all(this.stores.map((store) => store.close()));
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Which node an entry point starts: nodes/storage/main.ts a storage node, anything else a compute node. */
function roleOf(entry: string): 'compute' | 'storage' {
  return entry.includes('nodes/storage/') ? 'storage' : 'compute';
}
