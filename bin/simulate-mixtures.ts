/**
 * `npm run simulate:mixtures`: how far any way of mixing adaptive's two arms could get on
 * the four-phase workload (`npm run simulate -- --phases`). Each mixture is fixed, not
 * learned: the arm by the load the dispatcher sees, by the latency it hears, at random per
 * decision, or the better arm of each phase in hindsight. What a bandit could learn is at
 * best one of these, without the cost of learning it. Prints each one's p99 per phase and
 * over the run next to the better arm's; writes the rows as JSON (--out).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  definePolicy,
  type InvocationStrategy,
  invocationStrategy,
  type NodeView,
  registerPolicy,
} from '@strata/policy-engine';
import { type Phase, type SimulationResult, simulate } from '../bench/simulator/simulate';
import { exitWith, wholeNumber } from '../common/cli';

const USAGE = `usage: npm run simulate:mixtures -- [--seeds 1,2,3,4,5] [--nodes 60] [--invocations 60000] [--load 0.8]
  [--out bench/results/adaptive-mixtures.json]
The four phases of --invocations each, as in \`npm run simulate -- --phases\`.`;

const [A, B] = ['least-expected-delay', 'prequal'] as const;

/** The fraction of the fleet's slots reserved, as the dispatcher's view has it. */
function reserved(nodes: readonly NodeView[]): number {
  let inFlight = 0;
  let slots = 0;
  for (const node of nodes) {
    inFlight += node.inFlight;
    slots += node.slotsTotal;
  }
  return slots === 0 ? 0 : inFlight / slots;
}

/** A fixed mixture: which arm decides, from the view, the random source and the latency heard lately. */
type Chooser = (nodes: readonly NodeView[], random: () => number, recentLatencyMs: number) => 0 | 1;

function mixture(choose: Chooser): InvocationStrategy {
  const arms = [invocationStrategy(A, {}), invocationStrategy(B, {})];
  // Mean latency of the completions of about the last 200 ms (exponentially weighted).
  let recent = 0;
  let heardAt = 0;
  return Object.assign(
    (
      nodes: readonly NodeView[],
      invocation: Parameters<InvocationStrategy>[1],
      ctx: Parameters<InvocationStrategy>[2],
    ) => arms[choose(nodes, ctx.random, recent)](nodes, invocation, ctx),
    {
      observe(_placedAt: number, latencyMs: number, now: number) {
        const kept = Math.exp(-(now - heardAt) / 200);
        recent = kept * recent + (1 - kept) * latencyMs;
        heardAt = now;
      },
    },
  );
}

const MIXTURES: Record<string, Chooser> = {};
for (const band of [0.5, 0.7, 0.85, 0.95]) {
  MIXTURES[`${A} below ${band * 100}% reserved, else ${B}`] = (nodes) => (reserved(nodes) < band ? 0 : 1);
  MIXTURES[`${B} below ${band * 100}% reserved, else ${A}`] = (nodes) => (reserved(nodes) < band ? 1 : 0);
}
for (const ms of [150, 300])
  MIXTURES[`${B} while latency heard > ${ms} ms, else ${A}`] = (_n, _r, recentMs) => (recentMs > ms ? 1 : 0);
for (const share of [0.25, 0.5])
  MIXTURES[`${B} for ${share * 100}% of decisions at random`] = (_n, random) => (random() < share ? 1 : 0);

function p99(latencies: ArrayLike<number>): number {
  const sorted = Float64Array.from(latencies).sort();
  return sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)];
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seeds: { type: 'string', default: '1,2,3,4,5' },
        nodes: { type: 'string', default: '60' },
        invocations: { type: 'string', default: '60000' },
        load: { type: 'string', default: '0.8' },
        out: { type: 'string', default: 'bench/results/adaptive-mixtures.json' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const seeds = values.seeds.split(',').map((seed) => wholeNumber('seeds', seed, 0));
  const load = Number(values.load);
  if (!(load > 0 && load < 1.5)) exitWith(2, `--load must be a number above 0 and below 1.5, got "${values.load}"`);
  const each = wholeNumber('invocations', values.invocations, 1);
  const phases: Phase[] = [
    { name: 'uniform', invocations: each },
    { name: 'heavy-tailed', invocations: each, work: 'heavy-tailed' },
    { name: 'a third slowed', invocations: each, slowdown: true },
    { name: 'bursty', invocations: each, arrivals: 'bursty' },
  ];
  const options = { nodes: wholeNumber('nodes', values.nodes, 1), slots: 4, load, phases };
  const run = (strategy: string, seed: number) =>
    simulate({ ...options, seed, placement: { kind: 'strata', strategy, nodePolicy: 'least-expected-delay' } });
  const names = Object.keys(MIXTURES);
  names.forEach((name, i) => {
    registerPolicy(
      `mixture-${i}`,
      definePolicy({ tier: 'invocation', summary: name, create: () => mixture(MIXTURES[name]) }),
    );
  });
  const rows: { seed: number; name: string; phases: number[]; wholeRun: number; vsBetterArm: number }[] = [];
  for (const seed of seeds) {
    const arms = [run(A, seed), run(B, seed)];
    const better = Math.min(...arms.map((arm) => arm.summary.p99Ms));
    const row = (name: string, phaseP99: number[], wholeRun: number) => {
      rows.push({ seed, name, phases: phaseP99, wholeRun, vsBetterArm: wholeRun / better });
    };
    const ofRun = (result: SimulationResult) => result.phases!.map((phase) => phase.summary.p99Ms);
    row(A, ofRun(arms[0]), arms[0].summary.p99Ms);
    row(B, ofRun(arms[1]), arms[1].summary.p99Ms);
    // Hindsight: the better arm of each phase, its latencies cut in completion order at the phase sizes (near the arrival order).
    const picked = phases.map((_, i) => (ofRun(arms[0])[i] <= ofRun(arms[1])[i] ? 0 : 1));
    const joined = picked.flatMap((arm, i) => [...arms[arm].latencies.subarray(i * each, (i + 1) * each)]);
    row(
      'the better arm of each phase, in hindsight',
      picked.map((arm, i) => ofRun(arms[arm])[i]),
      p99(joined),
    );
    names.forEach((name, i) => {
      const result = run(`mixture-${i}`, seed);
      row(name, ofRun(result), result.summary.p99Ms);
    });
    process.stderr.write(`  seed ${seed} done\n`);
  }
  for (const seed of seeds) {
    console.log(`\nseed ${seed}: p99 in ms, per phase and over the run (over the better arm's)`);
    const header = ['mixture', ...phases.map((phase) => phase.name), 'whole run'];
    const cells = rows
      .filter((row) => row.seed === seed)
      .map((row) => [
        row.name,
        ...row.phases.map((ms) => ms.toFixed(0)),
        `${row.wholeRun.toFixed(0)} (${row.vsBetterArm.toFixed(3)}x)`,
      ]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((cell) => cell[i].length)));
    for (const cell of [header, header.map((_, i) => '-'.repeat(widths[i])), ...cells])
      console.log(`| ${cell.map((text, i) => text.padEnd(widths[i])).join(' | ')} |`);
  }
  console.log('\nwhole run over the better arm, per seed; "all below" when under 1.000x on every seed:');
  for (const name of [...new Set(rows.map((row) => row.name))].slice(2)) {
    const ratios = rows.filter((row) => row.name === name).map((row) => row.vsBetterArm);
    console.log(
      `  ${ratios.map((ratio) => ratio.toFixed(3)).join(' ')}${ratios.every((ratio) => ratio < 1) ? '  all below' : ''}  ${name}`,
    );
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify({ options, seeds, rows }, null, 2)}\n`);
  console.log(`\nrows: ${values.out}`);
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
