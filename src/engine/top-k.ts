/**
 * A bounded, sorted buffer of the best k (score, slot) pairs: score desc, then id asc.
 * k is small (≤ 1000) and most candidates fail the `floor` test before reaching `offer`, so
 * an insertion buffer beats a heap and yields the final order for free.
 */
import { compareIds } from './ids.js';

export class TopK {
  readonly k: number;
  size = 0;
  readonly scores: Float64Array;
  readonly slots: Int32Array;
  private readonly ids: readonly string[];

  constructor(k: number, ids: readonly string[]) {
    this.k = k;
    this.scores = new Float64Array(k);
    this.slots = new Int32Array(k);
    this.ids = ids;
  }

  /** Lowest score that can still enter (ties then go by id), or -Infinity while not full. */
  get floor(): number {
    return this.size === this.k ? this.scores[this.k - 1]! : -Infinity;
  }

  offer(score: number, slot: number): void {
    if (this.size === this.k) {
      if (!this.before(score, slot, this.size - 1)) return;
      this.size--;
    }
    let i = this.size;
    while (i > 0 && this.before(score, slot, i - 1)) {
      this.scores[i] = this.scores[i - 1]!;
      this.slots[i] = this.slots[i - 1]!;
      i--;
    }
    this.scores[i] = score;
    this.slots[i] = slot;
    this.size++;
  }

  /** Whether (score, slot) ranks before entry `i`. */
  private before(score: number, slot: number, i: number): boolean {
    const other = this.scores[i]!;
    return score > other || (score === other && compareIds(this.ids[slot]!, this.ids[this.slots[i]!]!) < 0);
  }
}
