/**
 * `npm run policy:check -- policies/least-memory.ts`: the engine's conformance checks on
 * a plugin, then, for a tier-1 strategy, the simulator against the oracle and the
 * decision benchmark against a real redis-server; one table. Exits 1 when a
 * conformance check fails (as `cdk synth` does for a plugin named in cdk.json).
 */
import { parseArgs } from 'node:util';
import { checkConformance, policyDefinition } from '@strata/policy-engine';
import { measureDecisions } from '../bench/decisions';
import { simulate } from '../bench/simulator/simulate';
import { exitWith, wholeNumber } from '../common/cli';
import { registerPolicyFile } from '../common/plugins';
import { startRedisServer } from '../local/redis-server';

const USAGE = `usage: npm run policy:check -- PATH [--options JSON] [--runs 1000] [--seed 1] [--quick]

PATH is a policy module (export default definePolicy({ tier, summary, options, create })).
Runs the engine's conformance checks on it (never picks an ineligible node, finds room
whenever there is some, never changes its input, same answer for the same random
source), each over --runs random snapshots. For a tier-1 strategy it then runs the
simulator (60 nodes of three speeds at 90% load) against the oracle and two built-ins,
and the decision benchmark against its own redis-server (needs redis-server and
redis-benchmark). --quick runs a smaller simulation and fewer decisions. Exit 1 when a
check fails.`;

interface Line {
  readonly check: string;
  readonly result: string;
  readonly detail: string;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        options: { type: 'string', default: '{}' },
        runs: { type: 'string', default: '1000' },
        seed: { type: 'string', default: '1' },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return void console.log(USAGE);
  if (positionals.length !== 1) return exitWith(2, `give one policy module\n\n${USAGE}`);
  let options: Record<string, unknown>;
  try {
    options = JSON.parse(values.options) as Record<string, unknown>;
  } catch {
    return exitWith(2, `--options must be a JSON object of the policy's options, got ${values.options}`);
  }
  const { name, tier } = await registerPolicyFile(positionals[0]).catch((error: Error) =>
    exitWith(2, `${positionals[0]}: ${error.message}`),
  );
  const definition = policyDefinition(tier, name);
  const runs = wholeNumber('runs', values.runs, 1);
  const lines: Line[] = [];

  let conformance;
  try {
    conformance = checkConformance(definition, options, { runs, seed: wholeNumber('seed', values.seed, 0) });
  } catch (error) {
    return exitWith(2, `--options: ${(error as Error).message}`);
  }
  for (const result of conformance)
    lines.push({
      check: `conformance: ${result.property}`,
      result: result.outcome,
      detail: result.outcome === 'n/a' ? `not for a ${tier} policy` : (result.detail ?? `${result.runs} snapshots`),
    });
  const failed = conformance.some((result) => result.outcome === 'fail');

  if (tier === 'invocation' && !failed) {
    process.stderr.write('simulating...\n');
    const base = {
      nodes: 60,
      invocations: values.quick ? 10_000 : 40_000,
      load: 0.9,
      speeds: 'heterogeneous' as const,
      seed: 1,
    };
    const oracle = simulate({ ...base, placement: { kind: 'oracle' } });
    const compared: [string, string, string][] = [
      [name, name, 'most-slots'],
      ['least-expected-delay', 'least-expected-delay', 'least-expected-delay'],
      ['round-robin', 'round-robin', 'most-slots'],
    ];
    lines.push({
      check: 'simulator: oracle',
      result: `p99 ${oracle.summary.p99Ms.toFixed(0)} ms`,
      detail: `p50 ${oracle.summary.medianMs.toFixed(0)} ms; ${base.nodes} nodes, ${base.invocations} invocations, 90% load`,
    });
    for (const [label, strategy, nodePolicy] of compared) {
      const run = simulate({
        ...base,
        placement: { kind: 'strata', strategy, nodePolicy, ...(strategy === name ? { options } : {}) },
      });
      lines.push({
        check: `simulator: ${label}`,
        result: `p99 ${(run.summary.p99Ms / oracle.summary.p99Ms).toFixed(2)}x oracle`,
        detail: `p50 ${(run.summary.medianMs / oracle.summary.medianMs).toFixed(2)}x, mean ${(run.summary.meanMs / oracle.summary.meanMs).toFixed(2)}x; p99 ${run.summary.p99Ms.toFixed(0)} ms`,
      });
    }
    process.stderr.write('benchmarking decisions against redis-server...\n');
    const server = await startRedisServer();
    try {
      for (const nodes of [10, 1000]) {
        const measured = await measureDecisions(server.url, name, 16, values.quick ? 2_000 : 10_000, nodes, options);
        lines.push({
          check: `decisions: ${nodes} nodes, 16 dispatchers`,
          result: `${measured.decisionsPerSecond.toFixed(0)}/s`,
          detail: `p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms, ${measured.roundTripsPerDecision.toFixed(2)} round trips, Redis ${measured.redisUsPerDecision.toFixed(0)} µs a decision`,
        });
      }
    } finally {
      await server.stop();
    }
  }

  console.log(
    `\n${positionals[0]}: ${tier} policy "${name}" (${definition.summary}), options ${JSON.stringify(options)}\n`,
  );
  const width = (key: keyof Line) => Math.max(key.length, ...lines.map((line) => line[key].length));
  const row = (cells: Line) =>
    `| ${cells.check.padEnd(width('check'))} | ${cells.result.padEnd(width('result'))} | ${cells.detail.padEnd(width('detail'))} |`;
  console.log(row({ check: 'check', result: 'result', detail: 'detail' }));
  console.log(`| ${'-'.repeat(width('check'))} | ${'-'.repeat(width('result'))} | ${'-'.repeat(width('detail'))} |`);
  for (const line of lines) console.log(row(line));
  if (failed) exitWith(1, `\n${name} fails the engine's conformance checks: cdk synth refuses it.`);
}

main().catch((error: unknown) => exitWith(1, error instanceof Error ? (error.stack ?? error.message) : String(error)));
