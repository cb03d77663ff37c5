// The limits live with the function registry (common/functions), which the dispatcher reads too.
export { MiB, RUN_BUDGET_MS } from '../common/functions/limits';
