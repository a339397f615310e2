// The embedded memory engine of one Engram node (see docs/engine.md).
export { Engine, type EngineOptions, type CreateSpaceResult, type StoreResult, type SpaceInfo } from './engine.js';
export type { PositionedPayload } from '../storage/log-reader.js';
export type { MemoryInput, AssociationInput, StoreBatch } from './store-batch.js';
export type { Cue } from './cue.js';
export type { RecallInput } from './recall.js';
export type { SpreadInput } from './spread.js';
export type { CompleteInput, CompleteOutput } from './complete.js';
export type { ConsolidateInput, ConsolidateOutput } from './consolidate.js';
export type { ImagineInput } from './imagine.js';
export { embedText, fnv1a32 } from './text-embedder.js';
export { compareIds } from './ids.js';
export * from './limits.js';
