/**
 * The CLI's options and commands as data: what parseArgs accepts, which environment variable
 * stands in for an option (the flag wins), and the help of `engram --help` and of
 * `engram <command> --help`, all from the tables below.
 */
import { DEFAULT_CLIENT_DEADLINE_MS } from '../client/engram-client.js';

/** Node address used when neither --node nor ENGRAM_NODE is given. */
export const DEFAULT_NODE = '127.0.0.1:7001';

export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  /** Placeholder of the value in the help. */
  value?: string;
  /** Environment variable used when the flag is absent. */
  env?: string;
  help: string;
  short?: string;
}

/** Options of every command: where the nodes are and how to call them. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'node', type: 'string', value: 'HOST:PORT[,HOST:PORT…]', env: 'ENGRAM_NODE', help: `nodes to call, in order; a call fails over to the next node when one is unavailable (default ${DEFAULT_NODE})` },
  { name: 'deadline-ms', type: 'string', value: 'MS', env: 'ENGRAM_DEADLINE_MS', help: `deadline of each call, across every node it tries (default ${DEFAULT_CLIENT_DEADLINE_MS})` },
  { name: 'tls-ca', type: 'string', value: 'FILE', env: 'ENGRAM_TLS_CA', help: 'talk TLS to nodes started with --tls-*, verifying them against this CA (PEM)' },
  { name: 'tls-cert', type: 'string', value: 'FILE', env: 'ENGRAM_TLS_CERT', help: 'client certificate (PEM), with --tls-key; optional' },
  { name: 'tls-key', type: 'string', value: 'FILE', env: 'ENGRAM_TLS_KEY', help: 'key of --tls-cert (PEM)' },
  { name: 'token', type: 'string', value: 'TOKEN', env: 'ENGRAM_TOKEN', help: 'client token for a node started with --client-tokens (prefer $ENGRAM_TOKEN: argv is visible in ps)' },
  { name: 'json', type: 'boolean', env: 'ENGRAM_JSON', help: 'print the answer (and errors, on stderr) as JSON' },
  { name: 'help', type: 'boolean', short: 'h', help: 'print this help' },
  { name: 'version', type: 'boolean', help: 'print the version of engram' },
];

/** Caller options of every query (DESIGN §3). */
export const QUERY_OPTIONS: readonly OptionSpec[] = [
  { name: 'timeout-ms', type: 'string', value: 'MS', env: 'ENGRAM_TIMEOUT_MS', help: 'per-partition deadline (default: the node\'s, 500 for one partition, 5000 for several)' },
  { name: 'no-partial', type: 'boolean', env: 'ENGRAM_NO_PARTIAL', help: 'fail instead of answering with a partition missing' },
  { name: 'min-coverage', type: 'string', value: 'X', env: 'ENGRAM_MIN_COVERAGE', help: 'share of the partitions that must answer, 0..1 (default 0)' },
];

export interface CommandSpec {
  /** The words that name it (`space create` is two). */
  name: string;
  /** Positional arguments, for the usage line. */
  args: string;
  summary: string;
  /** More lines of help. */
  details?: string;
  options: readonly OptionSpec[];
  /** Whether the query options apply. */
  query?: boolean;
}

const cue: OptionSpec[] = [
  { name: 'text', type: 'string', value: 'T', help: 'a text cue, embedded the way the node embeds text' },
  { name: 'embedding', type: 'string', value: 'JSON', help: 'an embedding cue: a JSON array of the space\'s dimension' },
];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'space create',
    args: 'SPACE',
    summary: 'create a memory space (creating it again with the same dimension changes nothing)',
    options: [
      { name: 'dimension', type: 'string', value: 'N', help: 'embedding dimension, 1..4096 (default 768)' },
      { name: 'primary', type: 'string', value: 'NODE', help: 'node id of the primary (default: the cluster picks)' },
      { name: 'replicas', type: 'string', value: 'A,B', help: 'node ids of the replicas' },
      { name: 'copies', type: 'string', value: 'N', help: 'copies including the primary (default: the node\'s --replication-factor)' },
    ],
  },
  {
    name: 'store',
    args: 'SPACE FILE.jsonl',
    summary: 'store memories and associations from a JSONL file',
    details: 'One JSON object a line: a memory {"id","embedding"|"text","content","confidence":{"lower","upper"}}\nor an association {"from","to","weight"}. Memories go first, so associations find their endpoints.',
    options: [
      { name: 'batch', type: 'string', value: 'N', help: 'memories per call (default 1000; associations go 10× as many)' },
      { name: 'ack', type: 'string', value: 'quorum|all', env: 'ENGRAM_ACK', help: 'quorum: committed on a majority of copies (default); all: applied on every copy' },
    ],
  },
  {
    name: 'recall',
    args: 'SPACE',
    summary: 'the memories most similar to a cue',
    query: true,
    options: [
      ...cue,
      { name: 'limit', type: 'string', value: 'N', help: 'memories to return, 1..1000 (default 10)' },
      { name: 'threshold', type: 'string', value: 'X', help: 'least cosine similarity (default 0)' },
    ],
  },
  {
    name: 'spread',
    args: 'SPACE[,SPACE…]',
    summary: 'spreading activation from seed memories along associations (over several spaces: across them)',
    query: true,
    options: [
      { name: 'seeds', type: 'string', value: 'ID,ID', help: 'memories to start from (required); over several spaces SPACE/ID,SPACE/ID' },
      { name: 'all-spaces', type: 'boolean', help: 'spread over every space of the cluster (instead of SPACE[,SPACE…])' },
      { name: 'hops', type: 'string', value: 'N', help: 'hops to follow (default 3)' },
      { name: 'decay', type: 'string', value: 'X', help: 'activation lost per hop (default 0.15)' },
      { name: 'threshold', type: 'string', value: 'X', help: 'least activation kept (default 0.02)' },
    ],
  },
  {
    name: 'complete',
    args: 'SPACE',
    summary: 'complete a partial pattern from its nearest memories',
    query: true,
    options: [
      { name: 'text', type: 'string', value: 'T', help: 'a text whose embedding is the pattern' },
      { name: 'known-fraction', type: 'string', value: 'F', help: 'with --text: the share of dimensions given as known (default 0.5)' },
      { name: 'values', type: 'string', value: 'JSON', help: 'the pattern\'s values (JSON array), with --known' },
      { name: 'known', type: 'string', value: 'JSON', help: 'one boolean a dimension: true where the value is known (JSON array)' },
      { name: 'neighbours', type: 'string', value: 'N', help: 'memories to complete from (default 5)' },
    ],
  },
  {
    name: 'consolidate',
    args: 'SPACE',
    summary: 'group similar memories into patterns (again without new memories creates nothing)',
    query: true,
    options: [{ name: 'threshold', type: 'string', value: 'X', help: 'least cosine similarity within a pattern (default 0.9)' }],
  },
  {
    name: 'imagine',
    args: 'SPACE[,SPACE…]',
    summary: 'new items from the memories of one or more spaces near a cue',
    query: true,
    options: [
      ...cue,
      { name: 'limit', type: 'string', value: 'N', help: 'items per space (default 5)' },
      { name: 'novelty', type: 'string', value: 'X', help: 'how far items stray from their source (default 0.3)' },
    ],
  },
  { name: 'status', args: '', summary: 'the node\'s spaces, members, assignment table and replication', options: [] },
];

/** The command named by the positionals (`space create` takes two words), if any. */
export function findCommand(positionals: readonly string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === positionals.slice(0, c.name.split(' ').length).join(' '));
}

/** Every option a command accepts. */
export function optionsOf(command: CommandSpec): OptionSpec[] {
  return [...command.options, ...(command.query ? QUERY_OPTIONS : []), ...GLOBAL_OPTIONS];
}

/** What parseArgs accepts: the union of every command's options (each command checks its own). */
export function parseArgsOptions(): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const o of [...GLOBAL_OPTIONS, ...QUERY_OPTIONS, ...COMMANDS.flatMap((c) => c.options)]) {
    out[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  }
  return out;
}

/**
 * The flags with the environment standing in for those not given. A boolean variable is true
 * for 1/true/yes and false for 0/false/no/empty; anything else is an error (returned as a message).
 */
export function withEnvironment(
  flags: Record<string, string | boolean | undefined>,
  options: readonly OptionSpec[],
  env: NodeJS.ProcessEnv,
): { flags: Record<string, string | boolean | undefined>; error?: string } {
  const out = { ...flags };
  for (const o of options) {
    if (!o.env || out[o.name] !== undefined) continue;
    const raw = env[o.env];
    if (raw === undefined) continue;
    if (o.type === 'string') {
      if (raw !== '') out[o.name] = raw;
      continue;
    }
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes'].includes(v)) out[o.name] = true;
    else if (!['0', 'false', 'no', ''].includes(v)) return { flags: out, error: `$${o.env} must be 1, true, yes, 0, false or no (got ${JSON.stringify(raw)})` };
  }
  return { flags: out };
}

function optionLines(options: readonly OptionSpec[]): string {
  const heads = options.map((o) => `  ${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return options.map((o, i) => `${heads[i]!.padEnd(width)}${o.help}${o.env ? ` [$${o.env}]` : ''}`).join('\n');
}

/** `engram --help`. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: engram [options] <command> [arguments]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'options (an environment variable in [] stands in for a flag not given):',
    optionLines(GLOBAL_OPTIONS),
    '',
    'query options (recall, spread, complete, consolidate, imagine):',
    optionLines(QUERY_OPTIONS),
    '',
    '`engram <command> --help` describes a command. Exit codes: 0 ok, 1 the node refused or failed, 2 bad usage.',
  ].join('\n');
}

/** `engram <command> --help`. */
export function commandHelp(command: CommandSpec): string {
  return [
    `usage: engram [options] ${command.name}${command.args ? ` ${command.args}` : ''}${command.options.length || command.query ? ' [command options]' : ''}`,
    '',
    `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
    ...(command.details ? ['', command.details] : []),
    ...(command.options.length ? ['', 'command options:', optionLines(command.options)] : []),
    ...(command.query ? ['', 'query options:', optionLines(QUERY_OPTIONS)] : []),
    '',
    'options (an environment variable in [] stands in for a flag not given):',
    optionLines(GLOBAL_OPTIONS),
  ].join('\n');
}
