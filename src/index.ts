// Public surface of engram-query: nothing else is a supported import path.
export * from './errors.js';
export { nativeBinding, nativeMode, gatherBackend, type NativeMode } from './native/binding.js';
