/** One JSON object per line on stderr: start/stop, errors, and the listening addresses. */

export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that writes `{"ts","level","node","msg",...fields}` lines to `out` (default stderr). */
export function jsonLogger(node: string, out: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    out.write(JSON.stringify({ ts: new Date().toISOString(), level, node, msg, ...fields }) + '\n');
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything (library use, tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
