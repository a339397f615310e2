/**
 * The flat embedding storage of one space, and the scan that computes the cue's dot product
 * with every stored row — the whole cost of recall (E2: 10,000 × 768 in ≤ 5 ms).
 *
 * Rows live in a WebAssembly memory so a 128-bit SIMD kernel can read them in place: JS tops
 * out near 1 ns per multiply-add here, four f32 lanes do better. The kernel (hand-assembled
 * below, 5 params, no imports but the memory) computes, for each row, four lane sums in f32 and
 * then ((l0 + l1) + l2) + l3 — WebAssembly fixes IEEE f32 semantics without fused multiply-add,
 * so results are the same on every machine. Dimensions that are not a multiple of 4, or a
 * runtime without SIMD, take the JS loop (f64 accumulation).
 *
 * Layout of the memory: `[rows: capacity × dimension f32][cue: dimension f32][scores: capacity f32]`.
 */
import { dotAt } from './vector.js';

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
declare const WebAssembly: WasmApi;

type DotsFn = (cue: number, rows: number, count: number, groups: number, out: number) => void;

const PAGE_BYTES = 65_536;

/**
 * `dots(cue, rows, count, groups, out)`: for r in 0…count, out[r] = Σ over `groups` f32x4 of
 * cue · row r. Byte addresses; rows are consecutive, `groups × 16` bytes each.
 */
const KERNEL = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
  ...section(1, [0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00]), // type: (i32 ×5) → ()
  ...section(2, [0x01, 0x03, ...ascii('env'), 0x06, ...ascii('memory'), 0x02, 0x00, 0x00]), // import env.memory
  ...section(3, [0x01, 0x00]), // function 0 has type 0
  ...section(7, [0x01, 0x04, ...ascii('dots'), 0x00, 0x00]), // export "dots" = function 0
  ...section(10, [0x01, ...sized([
    0x02, 0x03, 0x7f, 0x01, 0x7b, // locals: 5 g 6 qp 7 (i32), 8 acc (v128)
    0x02, 0x40, // block
    0x20, 0x02, 0x45, 0x0d, 0x00, //   br_if count == 0
    0x03, 0x40, //   loop (rows)
    0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x21, 0x08, // acc = 0
    0x20, 0x00, 0x21, 0x07, //     qp = cue
    0x20, 0x03, 0x21, 0x06, //     g = groups
    0x03, 0x40, //     loop (groups)
    0x20, 0x08, 0x20, 0x07, 0xfd, 0x00, 0x02, 0x00, 0x20, 0x01, 0xfd, 0x00, 0x02, 0x00, // acc, load qp, load rows
    0xfd, 0xe6, 0x01, 0xfd, 0xe4, 0x01, 0x21, 0x08, //       acc = acc + qp × rows (f32x4)
    0x20, 0x07, 0x41, 0x10, 0x6a, 0x21, 0x07, //       qp += 16
    0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, //       rows += 16
    0x20, 0x06, 0x41, 0x01, 0x6b, 0x22, 0x06, 0x0d, 0x00, // br_if --g
    0x0b, //     end
    0x20, 0x04, //     address out
    0x20, 0x08, 0xfd, 0x1f, 0x00, //     lane 0
    0x20, 0x08, 0xfd, 0x1f, 0x01, 0x92, // + lane 1
    0x20, 0x08, 0xfd, 0x1f, 0x02, 0x92, // + lane 2
    0x20, 0x08, 0xfd, 0x1f, 0x03, 0x92, // + lane 3
    0x38, 0x02, 0x00, //     f32.store
    0x20, 0x04, 0x41, 0x04, 0x6a, 0x21, 0x04, //     out += 4
    0x20, 0x02, 0x41, 0x01, 0x6b, 0x22, 0x02, 0x0d, 0x00, // br_if --count
    0x0b, //   end
    0x0b, // end
    0x0b, // end of function
  ])]),
]);

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sized(bytes: number[]): number[] {
  return [...leb128(bytes.length), ...bytes];
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...sized(bytes)];
}

/** The compiled kernel, or null where WebAssembly SIMD is unavailable. */
const kernel: object | null = (() => {
  try {
    return typeof WebAssembly === 'undefined' ? null : new WebAssembly.Module(KERNEL);
  } catch {
    return null;
  }
})();

/** Whether recall scans use the SIMD kernel on this runtime (for dimensions that are multiples of 4). */
export const SIMD_SCAN = kernel !== null;

export class VectorArena {
  readonly dimension: number;
  capacity: number;
  /** `capacity × dimension` f32 rows; replaced on growth. */
  vectors: Float32Array;
  private memory: WasmMemory | null = null;
  private dots: DotsFn | null = null;
  private scores: Float32Array;

  constructor(dimension: number, capacity: number) {
    this.dimension = dimension;
    this.capacity = capacity;
    if (kernel !== null && dimension % 4 === 0) {
      try {
        this.memory = new WebAssembly.Memory({ initial: pagesFor(dimension, capacity) });
        this.dots = new WebAssembly.Instance(kernel, { env: { memory: this.memory } }).exports['dots'] as DotsFn;
      } catch {
        // V8 reserves address space per wasm memory (about 13,000 fit in a process): beyond
        // that a space still works, on the JS loop.
        this.memory = null;
        this.dots = null;
      }
    }
    if (this.memory !== null) {
      this.vectors = new Float32Array(this.memory.buffer, 0, capacity * dimension);
      this.scores = this.scoresView();
    } else {
      this.vectors = new Float32Array(capacity * dimension);
      this.scores = new Float32Array(capacity);
    }
  }

  /** Doubles (or more) the capacity, keeping every row. */
  grow(capacity: number): void {
    if (this.memory !== null) {
      const missing = pagesFor(this.dimension, capacity) - this.memory.buffer.byteLength / PAGE_BYTES;
      try {
        if (missing > 0) this.memory.grow(missing);
        this.capacity = capacity;
        // Growing detaches the old buffer, so every view is made again.
        this.vectors = new Float32Array(this.memory.buffer, 0, capacity * this.dimension);
        this.scores = this.scoresView();
        return;
      } catch {
        // Past the 4 GiB of a wasm32 memory (or out of address space): continue in a JS array.
        this.memory = null;
        this.dots = null;
      }
    }
    const vectors = new Float32Array(capacity * this.dimension);
    vectors.set(this.vectors.subarray(0, Math.min(this.vectors.length, vectors.length)));
    this.vectors = vectors;
    this.scores = new Float32Array(capacity);
    this.capacity = capacity;
  }

  /** Dot product of `cue` (dimension values) with rows 0…count; a view valid until the next scan or grow. */
  scan(cue: Float32Array, count: number): Float32Array {
    const dim = this.dimension;
    if (this.memory !== null && this.dots !== null) {
      const cueAt = this.capacity * dim * 4;
      new Float32Array(this.memory.buffer, cueAt, dim).set(cue);
      this.dots(cueAt, 0, count, dim / 4, cueAt + dim * 4);
    } else {
      for (let r = 0; r < count; r++) this.scores[r] = dotAt(cue, this.vectors, r * dim, dim);
    }
    return this.scores.subarray(0, count);
  }

  private scoresView(): Float32Array {
    const at = (this.capacity + 1) * this.dimension * 4;
    return new Float32Array(this.memory!.buffer, at, this.capacity);
  }
}

function pagesFor(dimension: number, capacity: number): number {
  const bytes = (capacity * dimension + dimension + capacity) * 4;
  return Math.ceil(bytes / PAGE_BYTES);
}
