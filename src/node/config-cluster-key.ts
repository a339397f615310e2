/**
 * Where the node's cluster key comes from. A key on argv shows in `ps` and shell history, so the
 * key can come from a file (`--cluster-key-file`, e.g. a mounted secret) or `$ENGRAM_CLUSTER_KEY`.
 * Precedence: `--cluster-key` on the command line > the file (flag or `$ENGRAM_CLUSTER_KEY_FILE`)
 * > `$ENGRAM_CLUSTER_KEY`.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import type { FlagValues } from './config-env.js';

/**
 * The key, or undefined when none is configured. Reads the file when one is chosen: a missing
 * or empty file is a ConfigError naming `--cluster-key-file`; a file group or others may access
 * is used but logged as a warning (a Kubernetes secret volume is 0644 unless told otherwise).
 */
export function resolveClusterKey(values: FlagValues, fromEnv: ReadonlySet<string>, logger: Pick<Logger, 'warn'>): string | undefined {
  const key = values['cluster-key'] as string | undefined;
  const file = values['cluster-key-file'] as string | undefined;
  const keyOnArgv = key !== undefined && !fromEnv.has('cluster-key');
  if (keyOnArgv && file !== undefined && !fromEnv.has('cluster-key-file')) {
    throw new ConfigError('--cluster-key-file', 'give either --cluster-key or --cluster-key-file, not both');
  }
  if (keyOnArgv || file === undefined) return key;
  return readKeyFile(file, logger);
}

function readKeyFile(file: string, logger: Pick<Logger, 'warn'>): string {
  let text: string;
  let mode: number;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--cluster-key-file', `cannot read ${JSON.stringify(file)}: ${(err as Error).message}`);
  }
  // One trailing newline is what `echo` and editors add; it is not part of the key.
  const k = text.replace(/\r?\n$/, '');
  if (k.trim() === '') throw new ConfigError('--cluster-key-file', `${JSON.stringify(file)} is empty: it must hold the cluster key`);
  if ((mode & 0o077) !== 0) {
    logger.warn('cluster key file is accessible by group or others', { file, mode: `0${(mode & 0o777).toString(8)}`, advice: 'chmod 600' });
  }
  return k;
}
