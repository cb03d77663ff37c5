import type { NodeRole } from '@strata/policy-engine';
import type { NodeReport, StateStore } from '../../common/state';
import { ProcSampler, type HostSample } from './proc';

export interface MetricsAgentOptions {
  readonly id: string;
  readonly address: string;
  readonly role: NodeRole;
  readonly store: StateStore;
  /** The runtime's execution slots, read at every sample. */
  readonly slots: () => { readonly total: number; readonly used: number };
  readonly draining: () => boolean;
  /** @default 1000 */
  readonly intervalMs?: number;
  /** How long the node stays listed without a heartbeat. @default 3 x intervalMs */
  readonly ttlMs?: number;
  /** Where each sample's CloudWatch EMF record goes, one JSON line. @default nowhere */
  readonly emf?: (line: string) => void;
  /** @default the real /proc */
  readonly sampler?: ProcSampler;
  readonly now?: () => number;
}

/**
 * Samples the host every interval, publishes the figures to the shared state with a
 * heartbeat that expires, and writes them as a CloudWatch embedded-metric-format record
 * for the CloudWatch agent to ship. A failed publish (the state store down) is counted
 * and retried at the next interval; the agent never stops on it.
 */
export class MetricsAgent {
  /** Publishes that failed since start; for the node's health report. */
  failedPublishes = 0;
  /** Whether the last heartbeat reached the shared state: the node is registered there. */
  registered = false;
  lastReport: NodeReport | undefined;

  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly sampler: ProcSampler;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

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
    this.timer = setInterval(() => void this.publish(), this.intervalMs);
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
    };
    this.lastReport = report;
    this.options.emf?.(JSON.stringify(emfRecord(report, host)));
    try {
      await this.options.store.heartbeat(report, this.ttlMs);
      this.registered = true;
    } catch {
      this.failedPublishes++;
      this.registered = false;
    }
    return report;
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
