import { byLeastLoad } from '../nodes';
import type { NodePolicy } from '../types';
import { NO_PEER, peersWithRoom, withPeer } from './peers';

/** Peers with the lowest one-minute load per core first (AutoNDP's LeastLoad, with its order kept). */
export const leastLoadPeers: NodePolicy = withPeer(
  (self, nodes, _invocation, ctx) => {
    const peers = peersWithRoom(self, nodes, ctx).sort(byLeastLoad);
    return peers.length === 0 ? NO_PEER : { kind: 'forward', peers };
  },
  (exclude) => ({ kind: 'select', rule: 'least-load', exclude }),
);
