/**
 * Every public error of the package. Each has a stable `code` (also its gRPC mapping key),
 * a `name`, an optional `cause`, and typed fields that say what was wrong.
 */

/** Base of every error this package throws. */
export class EngramError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A request field has a bad value; `field` names it, `value` is what was given. */
export class InvalidArgumentError extends EngramError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, reason: string) {
    super('ERR_INVALID_ARGUMENT', `${field}: ${reason} (got ${describe(value)})`);
    this.field = field;
    this.value = value;
  }
}

/** The memory space does not exist (on this node, or anywhere in the cluster). */
export class SpaceNotFoundError extends EngramError {
  readonly space: string;
  constructor(space: string) {
    super('ERR_SPACE_NOT_FOUND', `memory space "${space}" does not exist`);
    this.space = space;
  }
}

/** A space with this id exists already with another dimension. */
export class SpaceConflictError extends EngramError {
  readonly space: string;
  constructor(space: string, message: string) {
    super('ERR_SPACE_CONFLICT', message);
    this.space = space;
  }
}

/** Bad configuration (options, environment variables, command-line flags). */
export class ConfigError extends EngramError {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super('ERR_CONFIG', `${setting}: ${message}`);
    this.setting = setting;
  }
}

/** ENGRAM_NATIVE=required and the addon could not be loaded. */
export class NativeUnavailableError extends EngramError {
  constructor(message: string, cause: unknown) {
    super('ERR_NATIVE_UNAVAILABLE', message, { cause });
  }
}

/** A caller handed the gather something no partition could have sent (a programming error). */
export class GatherInputError extends EngramError {
  constructor(message: string) {
    super('ERR_GATHER_INPUT', message);
  }
}

/** A space's log on disk is damaged beyond its torn tail. */
export class StorageError extends EngramError {
  readonly path: string;
  constructor(path: string, message: string, cause?: unknown) {
    super('ERR_STORAGE', `${path}: ${message}`, { cause });
    this.path = path;
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends EngramError {
  constructor(message = 'the operation was aborted') {
    super('ERR_ABORTED', message);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}

/** Nothing answered: every expected partition failed. Carries the coverage, never an empty success. */
export class AllPartitionsFailedError extends EngramError {
  readonly coverage: import('./query/coverage.js').Coverage;
  constructor(coverage: import('./query/coverage.js').Coverage) {
    const reasons = coverage.partitions.map((p) => `${p.partition}: ${p.status}${p.reason ? ` (${p.reason})` : ''}`).join('; ');
    super('ERR_ALL_PARTITIONS_FAILED', `no partition answered (${coverage.expected} expected): ${reasons}`);
    this.coverage = coverage;
  }
}

/** Some partitions did not answer and the caller asked for full coverage (or more than was had). */
export class InsufficientCoverageError extends EngramError {
  readonly coverage: import('./query/coverage.js').Coverage;
  readonly missing: string[];
  constructor(coverage: import('./query/coverage.js').Coverage, required: string) {
    const missing = coverage.partitions.filter((p) => p.status !== 'ok').map((p) => p.partition);
    super('ERR_INSUFFICIENT_COVERAGE', `${coverage.responding} of ${coverage.expected} partitions answered, ${required}; missing: ${missing.join(', ')}`);
    this.coverage = coverage;
    this.missing = missing;
  }
}
