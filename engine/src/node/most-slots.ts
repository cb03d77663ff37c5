import { byMostFreeSlots } from '../nodes';
import type { NodePolicy } from '../types';
import { NO_PEER, peersWithRoom, withPeer } from './peers';

/** Peers with the most free slots first (AutoNDP's MostSlots, with its order kept). */
export const mostSlotsPeers: NodePolicy = withPeer(
  (self, nodes, _invocation, ctx) => {
    const peers = peersWithRoom(self, nodes, ctx).sort(byMostFreeSlots);
    return peers.length === 0 ? NO_PEER : { kind: 'forward', peers };
  },
  (exclude) => ({ kind: 'select', rule: 'most-slots', exclude }),
);
