/** What happened to one planned partition: its answer, or why there is none. */
import type { CopyRole, PartitionStatus } from './coverage.js';
import type { PartitionAnswer } from './types.js';

export interface PartitionOutcome {
  /** Stable index of the partition in the plan. */
  index: number;
  /** The partition: a memory space id. */
  partition: string;
  /** Node that answered, or the last one tried. */
  node: string;
  role: CopyRole;
  status: PartitionStatus;
  reason: string;
  latencyMs: number;
  /** Present exactly when status is `ok`. */
  answer?: PartitionAnswer;
}
