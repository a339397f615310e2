/**
 * Hand-written shape of the addon's exports. `test/native-types.test.ts` checks at compile
 * time that the napi-generated `native/binding.d.cts` is assignable to it.
 */
export interface NativeBinding {
  penalty(expected: number, missing: number, partitioned: boolean): number;
  applyPenalty(values: Float32Array, penalty: number): void;
}
