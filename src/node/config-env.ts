/**
 * engram-node's flags as data, and the environment standing in for them: every flag `--some-flag`
 * is also `ENGRAM_SOME_FLAG` (containers and systemd units configure by environment). A flag given
 * on the command line wins over its variable. A bad value from a variable is refused with the
 * same ConfigError as the flag, naming the variable.
 */
import { ConfigError } from '../errors.js';

export interface NodeFlag {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  /** No environment variable (only `--help`). */
  noEnv?: boolean;
}

export const NODE_FLAGS: readonly NodeFlag[] = [
  { name: 'id', type: 'string' },
  { name: 'listen', type: 'string' },
  { name: 'advertise', type: 'string' },
  { name: 'advertise-gossip', type: 'string' },
  { name: 'data-dir', type: 'string' },
  { name: 'metrics', type: 'string' },
  { name: 'log-level', type: 'string' },
  { name: 'copy-ranking', type: 'string' },
  { name: 'hedge-budget', type: 'string' },
  { name: 'gossip', type: 'string' },
  { name: 'seeds', type: 'string' },
  { name: 'bootstrap', type: 'boolean' },
  { name: 'cluster-id', type: 'string' },
  { name: 'cluster-key', type: 'string' },
  { name: 'cluster-key-file', type: 'string' },
  { name: 'meta-voters', type: 'string' },
  { name: 'reassign-after', type: 'string' },
  { name: 'rebalance', type: 'string' },
  { name: 'space-compact-every', type: 'string' },
  { name: 'raft-tick-ms', type: 'string' },
  { name: 'join-timeout-ms', type: 'string' },
  { name: 'replication-factor', type: 'string' },
  { name: 'partition-threshold', type: 'string' },
  { name: 'heal-ms', type: 'string' },
  { name: 'probe-period-ms', type: 'string' },
  { name: 'probe-timeout-ms', type: 'string' },
  { name: 'suspect-timeout-ms', type: 'string' },
  { name: 'enable-faults', type: 'boolean' },
  { name: 'fault-callers', type: 'string' },
  { name: 'tls-cert', type: 'string' },
  { name: 'tls-key', type: 'string' },
  { name: 'tls-ca', type: 'string' },
  { name: 'insecure', type: 'boolean' },
  { name: 'client-tokens', type: 'string' },
  { name: 'min-free-disk', type: 'string' },
  { name: 'max-spaces', type: 'string' },
  { name: 'help', type: 'boolean', short: 'h', noEnv: true },
];

export type FlagValues = Record<string, string | boolean | undefined>;

/** `--data-dir` → `ENGRAM_DATA_DIR`. */
export function envName(flag: string): string {
  return `ENGRAM_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The options table of `util.parseArgs`. */
export function parseArgsOptions(flags: readonly NodeFlag[] = NODE_FLAGS): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const f of flags) out[f.name] = { type: f.type, ...(f.short ? { short: f.short } : {}) };
  return out;
}

export interface MergedFlags {
  values: FlagValues;
  /** Flags whose value came from the environment (to name the variable in errors). */
  fromEnv: ReadonlySet<string>;
}

/**
 * `argv` with the environment filling the flags it lacks. An empty string variable counts as
 * unset; a boolean variable is true for 1/true/yes, false for 0/false/no/empty, else an error.
 * Does not mutate `argv`.
 */
export function withEnvironment(argv: FlagValues, env: NodeJS.ProcessEnv, flags: readonly NodeFlag[] = NODE_FLAGS): MergedFlags {
  const values: FlagValues = { ...argv };
  const fromEnv = new Set<string>();
  for (const f of flags) {
    if (f.noEnv || values[f.name] !== undefined) continue;
    const raw = env[envName(f.name)];
    if (raw === undefined) continue;
    if (f.type === 'string') {
      if (raw !== '') {
        values[f.name] = raw;
        fromEnv.add(f.name);
      }
      continue;
    }
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes'].includes(v)) {
      values[f.name] = true;
      fromEnv.add(f.name);
    } else if (!['0', 'false', 'no', ''].includes(v)) {
      throw new ConfigError(`$${envName(f.name)}`, `must be 1, true, yes, 0, false or no (got ${JSON.stringify(raw)})`);
    }
  }
  return { values, fromEnv };
}

/**
 * The same error naming the variable instead of the flag when the flag's value came from the
 * environment (`--hedge-budget: …` → `$ENGRAM_HEDGE_BUDGET: …`); any other error unchanged.
 */
export function nameTheVariable(err: unknown, fromEnv: ReadonlySet<string>): unknown {
  if (!(err instanceof ConfigError)) return err;
  const m = /^--([a-z0-9-]+)(.*)$/.exec(err.setting);
  if (!m || !fromEnv.has(m[1]!)) return err;
  const reason = err.message.startsWith(`${err.setting}: `) ? err.message.slice(err.setting.length + 2) : err.message;
  return new ConfigError(`$${envName(m[1]!)}${m[2]}`, reason);
}

/** The `--help` section listing each flag with its variable. */
export function environmentHelp(flags: readonly NodeFlag[] = NODE_FLAGS): string {
  const withEnv = flags.filter((f) => !f.noEnv);
  const width = Math.max(...withEnv.map((f) => f.name.length)) + 4;
  const lines = withEnv.map((f) => `  ${`--${f.name}`.padEnd(width)}$${envName(f.name)}${f.type === 'boolean' ? '=true' : ''}`);
  return `environment (a flag given on the command line wins over its variable):\n${lines.join('\n')}`;
}
