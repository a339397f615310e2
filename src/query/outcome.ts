/** What happened to one planned partition: its coverage entry plus its answer, if any. */
import type { PartitionCoverage } from './coverage.js';
import type { PartitionAnswer } from './types.js';

export interface PartitionOutcome extends PartitionCoverage {
  /** Stable index of the partition in the plan. */
  index: number;
  /** Present exactly when status is `ok`. */
  answer?: PartitionAnswer;
  /** The request itself is bad (every copy would refuse it): the query fails with this error. */
  fatal?: Error;
}
