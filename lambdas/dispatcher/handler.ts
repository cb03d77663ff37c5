import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { invocationStrategy } from '@strata/policy-engine';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { BUILTIN_NAMES } from '../../common/functions/builtins';
import { FunctionDirectory, RedisRegistryCache } from '../../common/functions/directory';
import { FunctionRegistry } from '../../common/functions/registry';
import { TierPolicy } from '../../common/live-policy';
import { PolicyFaultReporter } from '../../common/policy-faults';
import {
  LivePolicies,
  POLICY_KEY,
  type PolicySettingSource,
  parsePolicySetting,
  redisSettingSource,
} from '../../common/policy-setting';
import { readDispatcherSettings } from '../../common/settings';
import { LearningSync } from '../../common/shared-learning';
import { connectStateStore } from '../../common/state';
import { Dispatcher, type DispatchObserver, learningObserver } from './dispatcher';
import { getParameter, redisUrlWithUser } from './secret';

export { learningObserver, redisUrlWithUser };

/** The dispatcher's settings, read once per container from its environment (common/settings/dispatcher.ts). */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env) {
  const { strategy, choices, prequal, strategyOptions: given, ...settings } = readDispatcherSettings(env);
  // The strategy's options as synth wrote them; without them, the built-ins' from the older variables.
  const strategyOptions =
    given ??
    (strategy === 'power-of-two'
      ? { choices }
      : strategy === 'prequal'
        ? { probes: prequal.probes, quantile: prequal.quantile }
        : {});
  return {
    ...settings,
    strategyName: strategy,
    strategyOptions,
    strategy: invocationStrategy(strategy, strategyOptions),
  };
}

/**
 * The tier-1 strategy as the dispatcher holds it: a decision it throws on goes to the
 * default strategy instead, counted (PolicyFaults) and logged at most once a minute.
 */
export function guardedStrategy(
  name: string,
  options: Record<string, unknown>,
  telemetry: Pick<DispatcherTelemetry, 'metrics' | 'logger'>,
  now: () => number = Date.now,
): TierPolicy<'invocation'> {
  const faults = new PolicyFaultReporter({
    count: () => telemetry.metrics.addMetric('PolicyFaults', MetricUnit.Count, 1),
    log: (message, fields) => telemetry.logger.error(message, fields),
    now,
  });
  return new TierPolicy('invocation', { name, options }, faults.report.bind(faults));
}

/** Dispatch metrics in CloudWatch EMF, namespace Strata. */
export function metricsObserver(metrics: Metrics, logger: Logger): DispatchObserver {
  return {
    dispatched({ node, latencyMs, attempts, status, degraded, functionError }) {
      metrics.addMetric('DispatchLatency', MetricUnit.Milliseconds, latencyMs);
      metrics.addMetric('Retries', MetricUnit.Count, attempts - 1);
      metrics.addMetric('DegradedDecisions', MetricUnit.Count, degraded ? 1 : 0);
      // A user's function that trapped or ran out of time is its own error, not the node's (docs/functions.md).
      if (functionError) metrics.addMetric('FunctionErrors', MetricUnit.Count, 1);
      else if (status >= 500) metrics.addMetric('NodeErrors', MetricUnit.Count, 1);
      metrics.singleMetric().addDimension('Node', node).addMetric('Decisions', MetricUnit.Count, 1);
    },
    retried({ node, why }) {
      logger.warn('compute node did not take the invocation; trying the next', { node, why });
    },
    noCapacity(reason) {
      metrics.addMetric('NoCapacity', MetricUnit.Count, 1);
      logger.warn('no capacity', { reason });
    },
    degraded(reason) {
      logger.error('state store unreachable: deciding over the last known nodes', { reason });
    },
  };
}

/**
 * `DegradedMode` 1 once in every clock minute in which a degraded container handles an
 * invocation, so that the alarm (two minutes in a row) stays in ALARM for as long as an
 * outage lasts under traffic. A frozen Lambda cannot say it between invocations.
 */
export function degradedModeReporter(
  metrics: Metrics,
  now: () => number = () => Date.now(),
): (degraded: boolean) => void {
  let lastMinute: number | undefined;
  return (degraded) => {
    const minute = Math.floor(now() / 60_000);
    if (!degraded || minute === lastMinute) return;
    lastMinute = minute;
    metrics.addMetric('DegradedMode', MetricUnit.Count, 1);
  };
}

/** What a container reports through: Powertools' metrics (EMF on stdout) and logger, and the degraded-mode reporter. */
export interface DispatcherTelemetry {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly reportDegraded: (degraded: boolean) => void;
}

/** A container's telemetry, as the Lambda has it; the local cluster makes its own the same way. */
export function dispatcherTelemetry(logger = new Logger({ serviceName: 'strata-dispatcher' })): DispatcherTelemetry {
  const metrics = new Metrics({ namespace: 'Strata', serviceName: 'dispatcher' });
  return { metrics, logger, reportDegraded: degradedModeReporter(metrics) };
}

/** One invocation as the Lambda runs it: the dispatcher's answer (500 on an unexpected error), then the invocation's metrics. */
export async function handleAndPublish(
  dispatcher: Dispatcher,
  event: APIGatewayProxyEvent,
  telemetry: DispatcherTelemetry,
  budget: Parameters<Dispatcher['handle']>[1] = {},
): Promise<APIGatewayProxyResult> {
  try {
    return await dispatcher.handle(event, budget);
  } catch (error) {
    telemetry.logger.error('unexpected error', error as Error);
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'internal error' }),
    };
  } finally {
    telemetry.reportDegraded(dispatcher.degraded);
    if (telemetry.metrics.hasStoredMetrics()) telemetry.metrics.publishStoredMetrics();
  }
}

const telemetry = dispatcherTelemetry();
let dispatcher: Dispatcher | undefined;
let live: LivePolicies | undefined;
let learningSync: LearningSync | undefined;
let publishPolicy: (() => Promise<number | undefined>) | undefined;

/** The event `strata policy set` invokes the function with: copy the setting from SSM into Redis. */
export interface PolicyPublishEvent {
  readonly strataPolicy: 'publish';
}

/** The durable setting, from SSM Parameter Store; SSM's own version is the setting's (it grows with every write, a deploy's included). */
async function readPolicyParameter(name: string): Promise<string | undefined> {
  const parameter = await getParameter(name);
  return parameter && JSON.stringify({ ...(JSON.parse(parameter.value) as object), version: parameter.version });
}

/**
 * Where the dispatcher reads the live setting: Redis, one GET a refresh. Redis is only
 * its cache: when the key is missing (a new or flushed cache) it is filled from SSM, once.
 */
export function policySource(
  command: (args: readonly string[]) => Promise<unknown>,
  readDurable: (() => Promise<string | undefined>) | undefined,
): PolicySettingSource {
  const fromRedis = redisSettingSource(command);
  return async () => {
    const cached = await fromRedis();
    if (cached !== undefined || !readDurable) return cached;
    const durable = await readDurable();
    if (durable !== undefined) await command(['SET', POLICY_KEY, durable, 'NX']);
    return durable;
  };
}

/**
 * The Lambda entry point: one Dispatcher, and so one Redis connection, per container.
 * Each invocation's budget is the time the Lambda has left (under API Gateway's 29 s).
 */
export async function handler(
  event: APIGatewayProxyEvent | PolicyPublishEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<APIGatewayProxyResult> {
  if (!dispatcher) {
    const config = configFromEnvironment();
    const connect = async () =>
      connectStateStore({ url: await redisUrlWithUser(config.redisUrl, config.redisAuthSecretArn) }); // ?cells=N: cells
    // The registry's cache has a connection of its own (the dispatcher's is closed and opened again after a failure).
    let cacheConnection: ReturnType<typeof connect> | undefined;
    const cacheStore = () =>
      (cacheConnection ??= connect().catch((error: Error) => {
        cacheConnection = undefined;
        throw error;
      }));
    const tier1 = guardedStrategy(config.strategyName, config.strategyOptions, telemetry);
    const command = async (args: readonly string[]) => (await cacheStore()).command(args);
    const parameter = config.policyParameter;
    const readDurable = parameter ? () => readPolicyParameter(parameter) : undefined;
    live = new LivePolicies(policySource(command, readDurable), [tier1], {
      intervalMs: config.refreshMs,
      log: (message) => telemetry.logger.info(message),
    });
    // What the adaptive strategy learns, merged with every other dispatcher's once a refresh.
    learningSync = new LearningSync(command, () => tier1.policy.learning, {
      intervalMs: config.refreshMs,
      log: (message) => telemetry.logger.warn(message),
    });
    publishPolicy = async () => {
      const durable = await readDurable?.();
      if (durable === undefined) return undefined;
      await command(['SET', POLICY_KEY, durable]);
      return parsePolicySetting(durable, ['invocation']).version; // the node tiers' plugins are in the nodes' bundle, not here
    };
    dispatcher = new Dispatcher({
      ...config,
      // The strategy in use now (it follows the live setting): what the tier-1 header and the metrics name.
      get strategyName() {
        return tier1.choice.name;
      },
      strategy: tier1.policy,
      connect,
      functions: new FunctionDirectory({
        cache: new RedisRegistryCache(async (command) => (await cacheStore()).command(command)),
        // The S3 client loads only when the cache is empty (a new or flushed Redis): not at every cold start.
        registry: config.functionsBucket ? { table: () => registryTableFromS3(config.functionsBucket!) } : undefined,
        refreshMs: config.refreshMs,
        onError: (error) =>
          telemetry.logger.warn('the functions registry could not be refreshed', { error: error.message }),
      }),
      observer: learningObserver(metricsObserver(telemetry.metrics, telemetry.logger), tier1.policy),
    });
    telemetry.metrics.captureColdStartMetric();
  }
  if ('strataPolicy' in event) {
    const version = await publishPolicy?.();
    telemetry.logger.info('policy setting published to the state store', { version });
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version }) };
  }
  await live?.refresh(); // at most one GET a refresh interval; never throws
  await learningSync?.refresh(); // the same, and a script, while a learning strategy runs
  return handleAndPublish(dispatcher, event, telemetry, { remainingMs: context?.getRemainingTimeInMillis?.() });
}

/** The registry's table read from the function code bucket, with the S3 client loaded on first use. */
async function registryTableFromS3(bucket: string) {
  const { S3CodeStore } =
    require('../../common/functions/code-store') as typeof import('../../common/functions/code-store');
  return new FunctionRegistry(new S3CodeStore({ bucket }), BUILTIN_NAMES).table();
}
