import type { LocalClusterOptions } from '../local/cluster';

/**
 * AutoNDP's baseline as Faasm ran it (faabric's Scheduler::doSchedulingDecision; the
 * lines are cited in docs/benchmarks.md): every call to one entry node, which runs it
 * itself while it has a free slot, else forwards it to a host with free slots, else
 * queues it ("overload locally"). It refuses only when its queue is full. The entry
 * node does every call's HTTP and scheduling work: it reserves the peer and relays the
 * peer's answer.
 *
 * - strategy `single-entry`: the dispatcher sends everything to the lowest-id compute
 *   node, with no limit (Faasm's load generator called one host).
 * - node policy `most-slots`: a peer with free slots (faabric walks its hosts in set
 *   order and takes the first with free slots; here the one with the most).
 * - `nodeQueue`: the bounded queue.
 * - `askPeers` (the scenario autondp-before-asks): the entry node finds that peer as
 *   faabric did, asking each host in turn for its slots at every forward, which is the
 *   entry node's per-call cost of AutoNDP's baseline.
 */
export function faasmBaseline(
  queue: number,
  askPeers = false,
): Pick<LocalClusterOptions, 'strategy' | 'nodePolicy' | 'nodeQueue' | 'askPeers'> {
  return { strategy: 'single-entry', nodePolicy: 'most-slots', nodeQueue: queue, askPeers };
}

/** The entry node's queue in the benchmarks: more than any driver has in flight, so it never refuses. */
export const BASELINE_QUEUE = 10_000;
