/**
 * Every `x-strata-*` header between the tiers, in one place: what a caller tells the
 * node it forwards to, what a node answers, and what the dispatcher adds to its answer
 * for the API caller. The values with a shape of their own (a refusal, an offload
 * outcome) are typed here too, with the one function that writes each.
 */

/** What every Strata header starts with. */
export const HEADER_PREFIX = 'x-strata-';

// Sent with a forwarded invocation.

/** How many times an invocation has been forwarded between nodes. */
export const HOPS_HEADER = 'x-strata-hops';
/**
 * How many more milliseconds the caller waits for the answer. A node bounds its own
 * forwards (to a peer, to a storage node) by it and starts no work once it has run out:
 * past it, nobody reads the answer.
 */
export const BUDGET_HEADER = 'x-strata-budget-ms';
/** The API request an invocation belongs to, passed along every hop: for logs and for finding duplicates. */
export const REQUEST_ID_HEADER = 'x-strata-request-id';
/** On a forwarded request: the nodes it has passed through, so that it is not offered back to them. */
export const VISITED_HEADER = 'x-strata-visited';
/** The version of a user's function that the dispatcher resolved (docs/functions.md); absent for a built-in. */
export const FUNCTION_VERSION_HEADER = 'x-strata-function-version';

// Answered by a node.

/**
 * Header on a 503 that says the node did not run the invocation, so the caller may
 * safely offer it to another node; its value is a Refusal.
 */
export const REFUSED_HEADER = 'x-strata-refused';
/** The node that ran the invocation. */
export const NODE_HEADER = 'x-strata-node';
/** The nodes the invocation went through, `a>b` when a forwarded it to b. */
export const ROUTE_HEADER = 'x-strata-route';
/** Where the data stage ran: an OffloadOutcome, as offloadHeader writes it. */
export const OFFLOAD_HEADER = 'x-strata-offload';
/** On a reply: the function's own error (trap, failed, bad-output, timeout), never the platform's; the dispatcher passes it on. */
export const FUNCTION_ERROR_HEADER = 'x-strata-function-error';

// Added by the dispatcher to its answer to the API caller.

/** The dispatcher's strategy and the node it chose, as tier1Header writes it. */
export const TIER1_HEADER = 'x-strata-tier1';
/** The compute nodes' route (ROUTE_HEADER). */
export const TIER2_HEADER = 'x-strata-tier2';
/** Where the data stage ran (OFFLOAD_HEADER), `none` for a function without one. */
export const TIER3_HEADER = 'x-strata-tier3';
/** How many compute nodes the dispatcher offered the invocation to. */
export const ATTEMPTS_HEADER = 'x-strata-attempts';

/**
 * Why a node refused an invocation it did not run. `no-stage`: a storage node that does not
 * know the data stage (an older build mid-deploy), on its 404, so the compute node runs it.
 */
export const REFUSALS = ['full', 'draining', 'over-thresholds', 'no-stage'] as const;
export type Refusal = (typeof REFUSALS)[number];

/**
 * A refusal header's value as a Refusal; `unrecognised` for a value no Strata node
 * sends (still a refusal: the node said it ran nothing); undefined without the header.
 */
export function refusalOf(value: string | string[] | undefined): Refusal | 'unrecognised' | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value);
  return (REFUSALS as readonly string[]).includes(text) ? (text as Refusal) : 'unrecognised';
}

/** Where an invocation's data stage ran, and why. */
export type OffloadOutcome =
  /** The function has no data stage. */
  | { readonly kind: 'none' }
  /** On this storage node, next to the data. */
  | { readonly kind: 'offloaded'; readonly node: string }
  /** On the compute node, as the offload policy decided, for this reason. */
  | { readonly kind: 'local'; readonly reason: string }
  /** On the compute node: the storage node refused (a Refusal, or the status it answered). */
  | { readonly kind: 'refused'; readonly node: string; readonly why: Refusal | 'unrecognised' | number }
  /** On the compute node: the storage node could not be reached or broke off. */
  | { readonly kind: 'failed'; readonly node: string; readonly why: 'not-delivered' | 'timeout' | 'broken' };

/** The OFFLOAD_HEADER value: `none`, `offloaded:<node>` or `local:<why>`. */
export function offloadHeader(outcome: OffloadOutcome): string {
  switch (outcome.kind) {
    case 'none':
      return 'none';
    case 'offloaded':
      return `offloaded:${outcome.node}`;
    case 'local':
      return `local:${outcome.reason}`;
    case 'refused':
      return `local:${outcome.node} refused (${outcome.why})`;
    case 'failed':
      return `local:${outcome.node} failed (${outcome.why})`;
  }
}

/** The TIER1_HEADER value: `<strategy>:<node>`, with ` (degraded)` while the dispatcher decides without the shared state. */
export function tier1Header(strategy: string, node: string, degraded: boolean): string {
  return `${strategy}:${node}${degraded ? ' (degraded)' : ''}`;
}
