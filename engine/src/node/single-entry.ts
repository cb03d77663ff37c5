import type { NodePolicy } from '../types';
import { NO_PEER, peersWithRoom, withPeer } from './peers';

/**
 * Peers in id order, whatever their load: what AutoNDP did with no node policy, its
 * peers kept in a sorted set. A baseline for the benchmarks, not a choice to deploy.
 * From the index: the lowest id not yet tried (a full one refuses, and the next is asked).
 */
export const singleEntryPeers: NodePolicy = withPeer(
  (self, nodes, _invocation, ctx) => {
    const peers = peersWithRoom(self, nodes, ctx);
    return peers.length === 0 ? NO_PEER : { kind: 'forward', peers };
  },
  (exclude) => ({ kind: 'select', rule: 'single-entry', exclude }),
);
