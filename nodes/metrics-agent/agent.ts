import type { NodeRole, NodeView } from '@strata/policy-engine';
import { heartbeatWithStorage, type NodeReport, type StateStore } from '../../common/state';
import { type HostSample, ProcSampler } from './proc';

export interface MetricsAgentOptions {
  readonly id: string;
  readonly address: string;
  readonly role: NodeRole;
  readonly store: StateStore;
  /** The runtime's execution slots, read at every sample. */
  readonly slots: () => { readonly total: number; readonly used: number };
  readonly draining: () => boolean;
  /** The node's measured service times, published with each heartbeat. @default none */
  readonly serviceTimes?: () => Pick<NodeReport, 'serviceMs' | 'functionServiceMs'>;
  /** @default 1000 */
  readonly intervalMs?: number;
  /** How long the node stays listed without a heartbeat. @default 3 x intervalMs */
  readonly ttlMs?: number;
  /** Where each sample's CloudWatch EMF record goes, one JSON line. @default nowhere */
  readonly emf?: (line: string) => void;
  /** Told once when EMF records start to fail, and once when they work again. @default stderr */
  readonly warn?: (message: string) => void;
  /** @default the real /proc */
  readonly sampler?: ProcSampler;
  readonly now?: () => number;
  /**
   * Given the storage nodes with each heartbeat that reached the store, read in the same
   * round trip (a compute node's tier-3 view). @default none: the heartbeat alone
   */
  readonly onStorageView?: (nodes: NodeView[]) => void;
}

/**
 * Samples the host every interval, publishes the figures to the shared state with a
 * heartbeat that expires, and writes them as a CloudWatch embedded-metric-format record
 * for the CloudWatch agent to ship. A failed publish (the state store down) or a failed
 * EMF write (the file not writable) is counted and tried again at the next interval; the
 * agent never stops on either, so the heartbeat goes on whatever happens to the metrics.
 */
export class MetricsAgent {
  /** Publishes that failed since start; for the node's health report. */
  failedPublishes = 0;
  /** EMF records that could not be written since start. */
  failedEmfWrites = 0;
  /** Whether the last heartbeat reached the shared state: the node is registered there. */
  registered = false;
  lastReport: NodeReport | undefined;

  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly sampler: ProcSampler;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private emfFailing = false;

  constructor(private readonly options: MetricsAgentOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 3 * this.intervalMs;
    if (!(this.intervalMs > 0) || !(this.ttlMs > this.intervalMs)) {
      throw new RangeError(`intervalMs must be above 0 and ttlMs above it; got ${this.intervalMs} and ${this.ttlMs}`);
    }
    this.sampler = options.sampler ?? new ProcSampler();
    this.now = options.now ?? Date.now;
  }

  /** Publishes one sample now, then one every interval. */
  async start(): Promise<void> {
    await this.publish();
    this.timer = setInterval(
      () => void this.publish().catch((error: Error) => this.warn(`metrics agent: sample failed: ${error.message}`)),
      this.intervalMs,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async publish(): Promise<NodeReport> {
    const host = await this.sampler.sample();
    const slots = this.options.slots();
    const report: NodeReport = {
      id: this.options.id,
      address: this.options.address,
      role: this.options.role,
      slotsTotal: slots.total,
      slotsUsed: slots.used,
      cpuBusy: host.cpuBusy,
      memoryUsed: host.memoryUsed,
      load1: host.load1,
      load5: host.load5,
      load15: host.load15,
      cores: host.cores,
      heartbeatAt: this.now(),
      draining: this.options.draining(),
      ...withoutUndefined(this.options.serviceTimes?.() ?? {}),
    };
    this.lastReport = report;
    this.writeEmf(JSON.stringify(emfRecord(report, host)));
    try {
      const { onStorageView, store } = this.options;
      if (onStorageView) onStorageView(await heartbeatWithStorage(store, report, this.ttlMs));
      else await store.heartbeat(report, this.ttlMs);
      this.registered = true;
    } catch {
      this.failedPublishes++;
      this.registered = false;
    }
    return report;
  }

  private writeEmf(line: string): void {
    if (!this.options.emf) return;
    try {
      this.options.emf(line);
      if (this.emfFailing) this.warn('metrics agent: EMF records are written again');
      this.emfFailing = false;
    } catch (error) {
      this.failedEmfWrites++;
      if (!this.emfFailing)
        this.warn(
          `metrics agent: cannot write EMF records (${(error as Error).message}); the heartbeat goes on, and the agent tries again every interval`,
        );
      this.emfFailing = true;
    }
  }

  private warn(message: string): void {
    (this.options.warn ?? ((text: string) => process.stderr.write(`${text}\n`)))(message);
  }
}

/** One CloudWatch EMF record: the figures as metrics in namespace Strata, by role and node. */
export function emfRecord(report: NodeReport, host: HostSample): Record<string, unknown> {
  const metrics = {
    CpuBusy: [host.cpuBusy * 100, 'Percent'],
    IoWait: [host.iowait * 100, 'Percent'],
    MemoryUsed: [host.memoryUsed * 100, 'Percent'],
    Load1: [host.load1, 'None'],
    Load5: [host.load5, 'None'],
    Load15: [host.load15, 'None'],
    LoadPerCore: [host.load1 / Math.max(1, host.cores), 'None'],
    SlotsTotal: [report.slotsTotal, 'Count'],
    SlotsUsed: [report.slotsUsed, 'Count'],
    // What the compute fleet scales on.
    SlotUse: [report.slotsTotal > 0 ? (100 * report.slotsUsed) / report.slotsTotal : 0, 'Percent'],
    // What the adaptive policies rank by: how long an invocation holds a slot here.
    ...(report.serviceMs === undefined ? {} : { ServiceTime: [report.serviceMs, 'Milliseconds'] }),
  } as const;
  return {
    _aws: {
      Timestamp: report.heartbeatAt,
      CloudWatchMetrics: [
        {
          Namespace: 'Strata',
          Dimensions: [['Role'], ['Role', 'NodeId']],
          Metrics: Object.entries(metrics).map(([Name, [, Unit]]) => ({ Name, Unit })),
        },
      ],
    },
    Role: report.role,
    NodeId: report.id,
    ...Object.fromEntries(Object.entries(metrics).map(([name, [value]]) => [name, value])),
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
