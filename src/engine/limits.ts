/**
 * Defaults and caps of the embedded engine. Every cap is enforced with an
 * `InvalidArgumentError` naming the field, never by silent truncation.
 */

/** Embedding dimension of a space created without one. */
export const DEFAULT_DIMENSION = 768;
/** Largest embedding dimension of a space. */
export const MAX_DIMENSION = 4096;
/** Spaces a node (alone) or a cluster holds before CreateSpace of a new one is refused (`--max-spaces`). */
export const DEFAULT_MAX_SPACES = 10_000;
/** Space ids: 3–64 characters of `[a-z0-9_-]`. */
export const SPACE_ID_PATTERN = /^[a-z0-9_-]{3,64}$/;

/** Longest memory id, in UTF-8 bytes. */
export const MAX_MEMORY_ID_BYTES = 256;
/** Longest memory content, in UTF-8 bytes (64 KiB). */
export const MAX_CONTENT_BYTES = 65_536;
/** Most memories in one store batch. */
export const MAX_BATCH_MEMORIES = 10_000;
/** Most associations in one store batch. */
export const MAX_BATCH_ASSOCIATIONS = 100_000;
/** Confidence interval of a memory stored without one. */
export const DEFAULT_CONFIDENCE: Readonly<{ lower: number; upper: number }> = Object.freeze({ lower: 0.5, upper: 0.9 });

/** Longest text cue, in UTF-8 bytes (64 KiB). */
export const MAX_CUE_TEXT_BYTES = 65_536;

/** Recall rows when `limit` is not given. */
export const DEFAULT_RECALL_LIMIT = 10;
/** Largest recall `limit`. */
export const MAX_RECALL_LIMIT = 1000;
/** Minimum cosine similarity of a recalled memory when `threshold` is not given. */
export const DEFAULT_RECALL_THRESHOLD = 0;

/** Spread hops when not given. */
export const DEFAULT_SPREAD_HOPS = 3;
/** Largest spread `hops`. */
export const MAX_SPREAD_HOPS = 10;
/** Share of activation lost per hop when `decay` is not given. */
export const DEFAULT_SPREAD_DECAY = 0.15;
/** Smallest activation propagated and reported when `threshold` is not given. */
export const DEFAULT_SPREAD_THRESHOLD = 0.02;
/** Most seed ids in one spread. */
export const MAX_SPREAD_SEEDS = 10_000;

/** Nearest memories a completion draws from when `neighbours` is not given. */
export const DEFAULT_COMPLETE_NEIGHBOURS = 5;
/** Largest completion `neighbours`. */
export const MAX_COMPLETE_NEIGHBOURS = 100;

/** Cosine similarity to a pattern's seed above which a memory joins it, when not given. */
export const DEFAULT_CONSOLIDATE_THRESHOLD = 0.9;
/** Fewest memories that make a pattern. */
export const MIN_PATTERN_MEMBERS = 2;

/** Items imagined per space when `limit` is not given. */
export const DEFAULT_IMAGINE_LIMIT = 5;
/** Largest imagine `limit`. */
export const MAX_IMAGINE_LIMIT = 100;
/** Weight of the cue in an imagined embedding when `novelty` is not given. */
export const DEFAULT_IMAGINE_NOVELTY = 0.3;

/**
 * Largest log record, bytes as logged (8 MiB): half the 16 MiB message cap, so a record always
 * fits in one replication call with its envelope. A store whose record would be larger is refused
 * (split the batch); a consolidation splits its patterns over several records.
 */
export const MAX_RECORD_BYTES = 8 * 1024 * 1024;
