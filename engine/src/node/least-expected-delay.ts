import { byId } from '../nodes';
import type { NodePolicy, NodeView } from '../types';
import { NO_PEER, peersWithRoom, withPeer } from './peers';

/**
 * Peers by shortest expected delay, (slots in use + 1) x service time / slots, with the
 * service time each peer measured of itself: for this function when peers have measured
 * it, else overall; a peer with no estimate counts as the median of those that have one.
 * The same speed estimate tier 1's least-expected-delay ranks by.
 */
export const leastExpectedDelayPeers: NodePolicy = withPeer(
  (self, nodes, invocation, ctx) => {
    const peers = peersWithRoom(self, nodes, ctx);
    if (peers.length === 0) return NO_PEER;
    const perFunction = peers.some((p) => p.functionServiceMs?.[invocation.functionName] !== undefined);
    const own = (p: NodeView) => (perFunction ? p.functionServiceMs?.[invocation.functionName] : p.serviceMs);
    const known = peers
      .map(own)
      .filter((ms): ms is number => ms !== undefined)
      .sort((a, b) => a - b);
    const median = known.length > 0 ? known[Math.floor((known.length - 1) / 2)] : 1;
    const delay = new Map(peers.map((p) => [p, ((p.slotsUsed + 1) * (own(p) ?? median)) / p.slotsTotal]));
    return { kind: 'forward', peers: peers.sort((a, b) => delay.get(a)! - delay.get(b)! || byId(a, b)) };
  },
  // The index ranks by each node's overall estimate (no per-function one) and its live count.
  (exclude) => ({ kind: 'select', rule: 'least-expected-delay', exclude }),
);
