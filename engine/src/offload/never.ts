import type { OffloadPolicy } from '../types';

/** Always run the data stage on the compute node (offload off, for comparisons). */
export const neverOffload: OffloadPolicy = () => ({ kind: 'local', reason: 'offload is off' });
