import { freeSlots } from '../nodes';
import { checkChoices } from '../options';
import { shuffle } from '../random';
import type { NodePolicy } from '../types';
import { NO_PEER, peersWithRoom, withPeer } from './peers';

/**
 * Power of d choices between peers: sample `choices` peers, the one with more free
 * slots first (a tie keeps the order drawn), then the rest in random order (see
 * ../invocation/power-of-two.ts).
 */
export function powerOfTwoPeers(choices = 2): NodePolicy {
  checkChoices(choices);
  return withPeer(
    (self, nodes, _invocation, ctx) => {
      const order = shuffle(peersWithRoom(self, nodes, ctx), ctx.random);
      if (order.length === 0) return NO_PEER;
      return {
        kind: 'forward',
        peers: [...order.slice(0, choices).sort((a, b) => freeSlots(b) - freeSlots(a)), ...order.slice(choices)],
      };
    },
    (exclude, ctx) => ({
      kind: 'select',
      rule: 'power-of-two',
      draws: Array.from({ length: choices }, () => ctx.random()),
      exclude,
    }),
  );
}
