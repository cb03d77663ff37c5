import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { lineFile } from '../common/cli';
import type { TierPolicy } from '../common/live-policy';
import type { StateStore } from '../common/state';
import type { Dispatcher, DispatchObserver } from '../lambdas/dispatcher/dispatcher';
import {
  type DispatcherTelemetry,
  dispatcherTelemetry,
  guardedStrategy,
  handleAndPublish,
  metricsObserver,
} from '../lambdas/dispatcher/handler';
import { groupRecord, LOCAL_RESOURCES, requestRecords, runCephHealth, sampleElastiCache } from './dashboard/stand-ins';
import { captureEmfFromStdout } from './lambda-logs';

export interface LocalTelemetryOptions {
  /** Where every EMF file goes: the nodes' (written by them), the dispatcher's and the stand-ins'. */
  readonly metricsDir: string;
  /** A real Redis to sample as ElastiCache. */
  readonly redisUrl?: string;
  /** A Ceph's ceph.conf, to run the health script against. */
  readonly cephConf?: string;
  readonly heartbeatMs: number;
}

/**
 * The metrics of a local run as CloudWatch would get them on AWS, each an EMF file in the
 * metrics folder: the dispatcher's Powertools records (from this process's stdout, as
 * Lambda's log processing takes them), API Gateway's and Lambda's per request, the
 * group's live compute nodes, ElastiCache's from a real Redis, and Ceph's health.
 */
export class LocalTelemetry {
  private readonly telemetry: DispatcherTelemetry;
  private readonly releaseStdout: () => void;
  private readonly writeAws: (line: string) => void;
  private readonly stops: (() => Promise<void>)[] = [];
  private concurrency = 0;

  constructor(private readonly options: LocalTelemetryOptions) {
    // Errors only: the page shows the rest, and the terminal stays readable.
    this.telemetry = dispatcherTelemetry(new Logger({ serviceName: 'strata-dispatcher', logLevel: 'ERROR' }));
    this.releaseStdout = captureEmfFromStdout(lineFile(join(options.metricsDir, 'dispatcher.emf.jsonl'))!);
    this.writeAws = lineFile(join(options.metricsDir, 'aws.emf.jsonl'))!;
    if (options.redisUrl) {
      const sampler = sampleElastiCache(options.redisUrl, lineFile(join(options.metricsDir, 'elasticache.emf.jsonl'))!);
      this.stops.push(() => sampler.stop());
    }
    if (options.cephConf) {
      const health = runCephHealth(options.cephConf, lineFile(join(options.metricsDir, 'ceph-health.emf.jsonl'))!);
      this.stops.push(() => health.stop());
    }
  }

  /** The dispatcher's tier-1 strategy, guarded as the Lambda's: faults counted into the same EMF records. */
  strategy(name: string, options: Record<string, unknown>): TierPolicy<'invocation'> {
    return guardedStrategy(name, options, this.telemetry);
  }

  /** The dispatcher's observer: its metrics as the Lambda's, then the caller's own. */
  observer(other?: DispatchObserver): DispatchObserver {
    const metrics = metricsObserver(this.telemetry.metrics, this.telemetry.logger);
    return {
      dispatched: (event) => {
        metrics.dispatched?.(event);
        other?.dispatched?.(event);
      },
      retried: (event) => {
        metrics.retried?.(event);
        other?.retried?.(event);
      },
      noCapacity: (reason) => {
        metrics.noCapacity?.(reason);
        other?.noCapacity?.(reason);
      },
      degraded: (reason) => {
        metrics.degraded?.(reason);
        other?.degraded?.(reason);
      },
    };
  }

  /** One request through the adapter as API Gateway and Lambda run it, with both services' metrics. */
  async invoke(dispatcher: Dispatcher, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const started = performance.now();
    this.concurrency++;
    const concurrency = this.concurrency;
    let status = 502;
    let failed = true;
    try {
      const result = await handleAndPublish(dispatcher, event, this.telemetry);
      status = result.statusCode;
      failed = false;
      return result;
    } finally {
      this.concurrency--;
      for (const line of requestRecords(LOCAL_RESOURCES, {
        latencyMs: performance.now() - started,
        status,
        failed,
        concurrency,
      }))
        this.writeAws(line);
    }
  }

  /** Publishes the group's size at every heartbeat: compute nodes live in the state, and how many were started. */
  watchGroup(state: StateStore, desired: () => number): void {
    const publish = () =>
      state.liveNodes().then(
        (nodes) =>
          this.writeAws(
            groupRecord(LOCAL_RESOURCES, nodes.filter((n) => n.role === 'compute' && !n.draining).length, desired()),
          ),
        () => undefined, // the state store is away: the group's figures wait for it
      );
    void publish();
    const timer = setInterval(() => void publish(), this.options.heartbeatMs);
    timer.unref();
    this.stops.push(async () => clearInterval(timer));
  }

  async stop(): Promise<void> {
    await Promise.all(this.stops.map((stop) => stop()));
    this.releaseStdout();
  }
}
