/**
 * The benchmark's load generator, a process of its own so that it can run on a host of
 * its own (the emulated fleet's `lg`, with its CPU quota and link), as AutoNDP's load
 * generator was a machine of its own. It holds the tier-1 dispatcher, as AutoNDP's
 * invoking client held its strategy, and sends each invocation to the compute node the
 * dispatcher picks; the dispatcher's CPU is counted on this host.
 *
 * `tsx bench/load-generator.ts '{"strategy":"round-robin","timeoutMs":30000,"workload":[["wordcount",{"key":"..."}]]}'`
 * with the state store's URL in STRATA_STATE_URL (it holds Redis's password: never argv).
 * Then a JSON line on stdin per load level, `{"driver":"window","level":8,"requests":200,"seconds":15}`,
 * answered by a JSON line on stdout: every request's outcome, the elapsed time and this
 * process's CPU. It ends when stdin closes.
 */
import { createInterface } from 'node:readline';
import { invocationStrategy } from '@strata/policy-engine';
import { NODE_HEADER } from '../common/http/headers';
import { RedisStateStore } from '../common/state';
import { Dispatcher } from '../lambdas/dispatcher/dispatcher';
import { proxyEvent } from '../local/api-adapter';
import { type Driver, drive, type Outcome } from './drivers';

export interface LoadGeneratorConfig {
  readonly strategy: string;
  /** The client's timeout: a request unanswered by then is a failure. */
  readonly timeoutMs: number;
  /** How long the dispatcher queues an invocation while every node is full. */
  readonly queueTimeoutMs: number;
  /** Each invocation of the workload, in turn: [function, arguments]. */
  readonly workload: readonly (readonly [string, unknown])[];
}

export interface LevelCommand {
  readonly driver: Driver;
  readonly level: number;
  readonly requests: number;
  readonly seconds: number;
}

export interface LevelResult {
  readonly outcomes: Outcome[];
  readonly elapsedS: number;
  /** This process's CPU (the dispatcher and the driver) over the level, cores. */
  readonly cpuCores: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as LoadGeneratorConfig;
  const url = process.env.STRATA_STATE_URL;
  if (!url) throw new Error('STRATA_STATE_URL must hold the state store URL');
  const dispatcher = new Dispatcher({
    strategyName: config.strategy,
    strategy: invocationStrategy(config.strategy),
    connect: () => RedisStateStore.connect({ url }),
    queueTimeoutMs: config.queueTimeoutMs,
  });
  const send = async (i: number): Promise<Omit<Outcome, 'batch'>> => {
    const [fn, args] = config.workload[i % config.workload.length];
    const body = Buffer.from(JSON.stringify(args));
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), config.timeoutMs);
    });
    const event = proxyEvent({
      method: 'POST',
      url: `/invoke/${fn}`,
      rawHeaders: ['content-type', 'application/json'],
      body,
    });
    const result = await Promise.race([dispatcher.handle(event).catch(() => undefined), timeout]);
    clearTimeout(timer);
    const ms = performance.now() - t0;
    if (result?.statusCode !== 200) return { ms, ok: false };
    return { ms, ok: true, node: String(result.headers?.[NODE_HEADER] ?? '?') };
  };
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const command = JSON.parse(line) as LevelCommand;
    const cpu = process.cpuUsage();
    const { outcomes, elapsedS } = await drive(send, command.driver, command.level, command.requests, command.seconds);
    const used = process.cpuUsage(cpu);
    const result: LevelResult = { outcomes, elapsedS, cpuCores: (used.user + used.system) / 1e6 / elapsedS };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  await dispatcher.close();
}

main().catch((error: Error) => {
  process.stderr.write(`load generator: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
