/**
 * What one invocation may ask for, set by the time it has. The dispatcher gives a compute
 * node 28 s to answer (its forward timeout, STRATA_FORWARD_TIMEOUT_MS, under API Gateway's
 * 29 s integration timeout); before a function starts, the node may offer the invocation
 * to peers and wait up to 0.5 s for a slot on each of up to three nodes, and a data stage
 * may first be offered to a storage node that refuses it. What is left for the work
 * itself, with room for a busy node, is RUN_BUDGET_MS. Every function's limits keep its
 * work inside it (sleep's `ms`, sha256's `rounds`, each data stage's maxObjectBytes), so
 * that a request the limits accept is not cut off by a 504.
 */
export const RUN_BUDGET_MS = 20_000;

export const MiB = 1024 * 1024;
