import { sleep } from '../commands';
import type { Host } from '../emulated-hosts';

/** Ceph as seen from one storage host: the ceph CLI with the node's own admin keyring. */
export class CephView {
  constructor(readonly host: Host) {}

  /** `ceph ARGS --format json`, parsed; throws with ceph's output when it fails. */
  async json<T>(...args: string[]): Promise<T> {
    return JSON.parse(
      await this.host.must(['timeout', '60', 'ceph', ...args, '--format', 'json'], { timeoutMs: 70_000 }),
    ) as T;
  }

  async health(): Promise<{ status: string; checks: Record<string, { summary: { message: string } }> }> {
    return this.json('health');
  }

  /** HEALTH_OK, or the status and its checks' messages. */
  async healthText(): Promise<string> {
    const health = await this.health();
    const checks = Object.entries(health.checks ?? {}).map(([name, check]) => `${name}: ${check.summary.message}`);
    return [health.status, ...checks].join('; ');
  }

  /** Waits until health is HEALTH_OK; answers the seconds it took. Throws with the last health seen. */
  async waitForHealthOk(
    timeoutMs: number,
    isOk: (text: string) => boolean = (text) => text === 'HEALTH_OK',
  ): Promise<number> {
    const started = Date.now();
    let last = '';
    while (Date.now() - started < timeoutMs) {
      last = await this.healthText().catch(
        (error: Error) => `no answer: ${error.message.split('\n').slice(-2).join(' ')}`,
      );
      if (isOk(last)) return (Date.now() - started) / 1000;
      await sleep(3000);
    }
    throw new Error(`not HEALTH_OK after ${Math.round(timeoutMs / 1000)} s; last: ${last}`);
  }

  async monDump(): Promise<{ mons: { name: string; public_addrs: { addrvec: { type: string; addr: string }[] } }[] }> {
    return this.json('mon', 'dump');
  }

  async quorumNames(): Promise<string[]> {
    return (await this.json<{ quorum_names: string[] }>('quorum_status')).quorum_names;
  }

  async osdStat(): Promise<{ num_osds: number; num_up_osds: number; num_in_osds: number }> {
    return this.json('osd', 'stat');
  }

  async pool(name: string): Promise<Record<string, unknown>> {
    return this.json('osd', 'pool', 'get', name, 'all');
  }

  /** The value of a setting as the daemon runs with it. */
  async runningConfig(daemon: string, key: string): Promise<string> {
    return (await this.host.must(['timeout', '60', 'ceph', 'config', 'show', daemon, key])).trim();
  }
}
