/**
 * Id interning over the raw UTF-8 bytes of the partitions' id blobs: an open-addressing hash
 * table of slot numbers, so the TS merges create no string per row (a JS Map would need one).
 */

/** Slots (distinct ids) of a merge, each remembered by where its bytes first appeared. */
export class IdTable {
  /** Whether the last `intern` call created the slot. */
  inserted = false;
  private readonly blobs: Uint8Array[] = [];
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly hashes: Uint32Array;
  private readonly blobOf: Uint32Array;
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;
  private count = 0;

  /** `capacity`: the most slots this table will hold (total rows is always enough). */
  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    this.hashes = new Uint32Array(capacity);
    this.blobOf = new Uint32Array(capacity);
    this.starts = new Uint32Array(capacity);
    this.ends = new Uint32Array(capacity);
  }

  /** Registers a blob; returns the handle `intern` takes. */
  addBlob(blob: Uint8Array): number {
    this.blobs.push(blob);
    return this.blobs.length - 1;
  }

  /** Slot of the id `blob[start, end)`, created (and `inserted` set) when new. */
  intern(b: number, blob: Uint8Array, start: number, end: number): number {
    // FNV-1a, 32 bits: a few instructions per byte, good enough spread for ids.
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ blob[i]!, 0x01000193);
    h >>>= 0;
    const { table, mask, hashes } = this;
    let pos = h & mask;
    for (;;) {
      const e = table[pos]!;
      if (e === 0) break;
      const s = e - 1;
      if (hashes[s] === h && this.equals(s, blob, start, end)) {
        this.inserted = false;
        return s;
      }
      pos = (pos + 1) & mask;
    }
    const s = this.count++;
    table[pos] = s + 1;
    hashes[s] = h;
    this.blobOf[s] = b;
    this.starts[s] = start;
    this.ends[s] = end;
    this.inserted = true;
    return s;
  }

  /** Byte order (unsigned, lexicographic) of the ids of two slots: <0, 0 or >0. */
  compare(a: number, b: number): number {
    const x = this.blobs[this.blobOf[a]!]!;
    const y = this.blobs[this.blobOf[b]!]!;
    const xs = this.starts[a]!;
    const ys = this.starts[b]!;
    const xl = this.ends[a]! - xs;
    const yl = this.ends[b]! - ys;
    const n = Math.min(xl, yl);
    for (let i = 0; i < n; i++) {
      const d = x[xs + i]! - y[ys + i]!;
      if (d !== 0) return d;
    }
    return xl - yl;
  }

  private equals(s: number, blob: Uint8Array, start: number, end: number): boolean {
    const xs = this.starts[s]!;
    if (this.ends[s]! - xs !== end - start) return false;
    const x = this.blobs[this.blobOf[s]!]!;
    for (let i = 0; i < end - start; i++) if (x[xs + i] !== blob[start + i]) return false;
    return true;
  }
}
