/**
 * One JSON object per line on stderr, through pino: `{"level","ts","node","msg",...fields}`.
 * The field names predate pino and are kept (a string `level`, an ISO `ts`, `msg`, `node`):
 * the node-process launcher, the local cluster and the tests read them from stderr.
 */
import { pino, type DestinationStream } from 'pino';

/** Levels of `--log-level`, most verbose first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Default of `--log-level`. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface Logger {
  /**
   * Detail an operator turns on with `--log-level debug`. Optional so that a Logger written
   * before it existed (a test's recorder, a library user's adapter) still fits: call `debug?.()`.
   */
  debug?(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface JsonLoggerOptions {
  /** Lines below this level are dropped. Default `info`. */
  level?: LogLevel;
  /** Where lines go. Default stderr, written synchronously so a crash right after loses nothing. */
  destination?: NodeJS.WritableStream;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/**
 * A logger that writes `{"level","ts","node","msg",...fields}` lines. The second argument may be
 * the output stream itself (the signature before options existed).
 */
export function jsonLogger(node: string, options: JsonLoggerOptions | NodeJS.WritableStream = {}): Logger {
  const opts: JsonLoggerOptions = isStream(options) ? { destination: options } : options;
  const destination: DestinationStream = opts.destination
    ? (opts.destination as unknown as DestinationStream)
    : pino.destination({ dest: 2, sync: true });
  const log = pino(
    {
      level: opts.level ?? DEFAULT_LOG_LEVEL,
      base: { node },
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  // pino takes (fields, msg); fields may be undefined
  return {
    debug: (m, f) => log.debug(f ?? {}, m),
    info: (m, f) => log.info(f ?? {}, m),
    warn: (m, f) => log.warn(f ?? {}, m),
    error: (m, f) => log.error(f ?? {}, m),
  };
}

function isStream(x: JsonLoggerOptions | NodeJS.WritableStream): x is NodeJS.WritableStream {
  return typeof (x as { write?: unknown }).write === 'function';
}

/** A logger that drops everything (library use, tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
