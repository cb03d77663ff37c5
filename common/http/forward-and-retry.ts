import { ForwardError, type ForwardRequest, type ForwardResponse, forward } from './forward';
import { REFUSED_HEADER, type Refusal, refusalOf } from './headers';

/**
 * The protocol between tiers, one place for the dispatcher (tier 1 to a compute node)
 * and a compute node (tier 2 to a peer): offer the invocation to one node at a time;
 * a node that refused (503 with REFUSED_HEADER) or that could not be reached ran
 * nothing, so the next may take it; a node that answered, or that timed out or broke
 * off (it may have run it), ends the offer: running it elsewhere could run it twice.
 */

/** A node to offer the invocation to, and what to do once the offer to it is over (a reservation to release). */
export interface Target {
  readonly id: string;
  /** `host:port` */
  readonly address: string;
  /** Called once the forward to it is over, whatever its outcome. */
  readonly done?: () => Promise<void> | void;
}

/** Who to try next, or why there is nobody (`Why`: the caller's reason, e.g. a policy's no-capacity). */
export type Next<Why> =
  | { readonly kind: 'target'; readonly target: Target }
  | { readonly kind: 'none'; readonly why: Why };

/** Why a node passed the invocation on: in either case it ran nothing there. */
export type Passed = Refusal | 'unrecognised' | 'not-delivered';

/** How an offer ended. */
export type Offered<Why> =
  /** A node answered (any status but a refusal): relay it. */
  | {
      readonly kind: 'answered';
      readonly node: string;
      readonly response: ForwardResponse;
      /** How many nodes were offered it, this one included. */
      readonly attempts: number;
    }
  /** A node timed out or broke off: it may have run the invocation, so it is not offered again. */
  | {
      readonly kind: 'failed';
      readonly node: string;
      readonly error: ForwardError & { readonly kind: 'timeout' | 'broken' };
      readonly attempts: number;
    }
  /** `next` had nobody (left) to offer it to; `tried` passed it on. */
  | { readonly kind: 'none'; readonly why: Why; readonly tried: readonly string[] }
  /** `maxAttempts` nodes passed it on. */
  | { readonly kind: 'exhausted'; readonly tried: readonly string[] };

export interface OfferOptions<Why> {
  /** The next node to offer the invocation to, given those that passed it on already. */
  readonly next: (tried: ReadonlySet<string>) => Promise<Next<Why>>;
  /** The request for a node, built when it is sent (so that its budget is what is left then). */
  readonly request: (target: Target) => Omit<ForwardRequest, 'address'>;
  /** At most this many nodes are offered it. @default no limit: until `next` has nobody */
  readonly maxAttempts?: number;
  /** Told of each node that passed it on. */
  readonly onPassed?: (node: string, why: Passed) => void;
}

/** Offers an invocation to one node after another until one answers (see the module's comment). */
export async function offer<Why>(options: OfferOptions<Why>): Promise<Offered<Why>> {
  const tried = new Set<string>();
  const maxAttempts = options.maxAttempts ?? Infinity;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const next = await options.next(tried);
    if (next.kind === 'none') return { kind: 'none', why: next.why, tried: [...tried] };
    const { target } = next;
    let response: ForwardResponse;
    try {
      response = await forward({ ...options.request(target), address: target.address });
    } catch (error) {
      if (!(error instanceof ForwardError)) throw error;
      if (error.kind === 'not-delivered') {
        tried.add(target.id);
        options.onPassed?.(target.id, 'not-delivered');
        continue;
      }
      return {
        kind: 'failed',
        node: target.id,
        error: error as ForwardError & { kind: 'timeout' | 'broken' },
        attempts: attempt,
      };
    } finally {
      await target.done?.();
    }
    const refusal = response.status === 503 ? refusalOf(response.headers[REFUSED_HEADER]) : undefined;
    if (refusal) {
      tried.add(target.id);
      options.onPassed?.(target.id, refusal);
      continue;
    }
    return { kind: 'answered', node: target.id, response, attempts: attempt };
  }
  return { kind: 'exhausted', tried: [...tried] };
}
