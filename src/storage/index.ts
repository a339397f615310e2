// Durable storage of the embedded engine: framed, checksummed, append-only logs, one per space.
export { encodeFrame, scanFrames, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD_BYTES, type ScanResult } from './frame.js';
export { encodeRecord, decodeRecord, type LogRecord, type SpaceHeaderRecord, type StoreRecord, type PatternsRecord, type LoggedMemory, type LoggedAssociation, type LoggedPattern } from './log-record.js';
export { SpaceLog, spacesDir, logPath, LOG_SUFFIX, type ReplayedLog, type WarnFn } from './space-log.js';
export type { PositionedPayload } from './log-reader.js';
