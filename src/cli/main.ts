#!/usr/bin/env node
/**
 * `engram`: a command-line client for Engram nodes. Exit codes: 0 ok, 1 the node refused or
 * failed, 2 bad usage. Options and their environment variables: src/cli/options.ts.
 */
import { parseArgs } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { EngramClient } from '../client/engram-client.js';
import { EngramError } from '../errors.js';
import { VERSION } from '../util/version.js';
import { runCommand, UsageError } from './commands.js';
import { DEFAULT_NODE, commandHelp, findCommand, mainHelp, optionsOf, parseArgsOptions, withEnvironment, type CommandSpec } from './options.js';
import { loadTlsConfig, type TlsConfig } from '../security/tls-config.js';

function usageError(message: string, command?: CommandSpec): number {
  console.error(`engram: ${message}\n(\`engram ${command ? `${command.name} ` : ''}--help\` lists the options)`);
  return 2;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: parseArgsOptions() });
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (parsed.values.version) {
    console.log(VERSION);
    return 0;
  }
  const command = findCommand(parsed.positionals);
  if (parsed.values.help) {
    console.log(command ? commandHelp(command) : mainHelp());
    return 0;
  }
  if (!command) {
    return usageError(parsed.positionals.length === 0 ? 'name a command' : `unknown command ${JSON.stringify(parsed.positionals.join(' '))}`);
  }
  const accepted = optionsOf(command);
  const foreign = Object.keys(parsed.values).filter((name) => !accepted.some((o) => o.name === name));
  if (foreign.length > 0) return usageError(`${command.name} takes no ${foreign.map((f) => `--${f}`).join(', ')}`, command);
  const { flags, error } = withEnvironment(parsed.values, accepted, env);
  if (error) return usageError(error, command);

  let client: EngramClient;
  try {
    const tls: TlsConfig | undefined = loadTlsConfig({ ca: flags['tls-ca'] as string | undefined, cert: flags['tls-cert'] as string | undefined, key: flags['tls-key'] as string | undefined }, false);
    const deadline = flags['deadline-ms'];
    const deadlineMs = deadline === undefined ? undefined : Number(deadline);
    if (deadlineMs !== undefined && (String(deadline).trim() === '' || !Number.isInteger(deadlineMs) || deadlineMs < 1)) {
      throw new UsageError(`--deadline-ms must be a whole number of ms ≥ 1 (got ${JSON.stringify(deadline)})`);
    }
    const nodes = String(flags.node ?? DEFAULT_NODE).split(',').map((n) => n.trim()).filter(Boolean);
    const token = flags.token as string | undefined;
    client = new EngramClient({ nodes, ...(tls ? { tls } : {}), ...(deadlineMs !== undefined ? { deadlineMs } : {}), ...(token ? { token } : {}) });
  } catch (err) {
    return usageError((err as Error).message, command);
  }
  try {
    const out = await runCommand(client, parsed.positionals, flags);
    console.log(flags.json ? JSON.stringify(out.json, jsonReplacer, 2) : out.text);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message, command);
    if (err instanceof EngramError) {
      // The status and the stable code first: what a script matches on.
      const status = grpcStatus[err.grpcStatus];
      const coverage = (err as { coverage?: unknown }).coverage;
      if (flags.json) console.error(JSON.stringify({ error: status, code: err.code, message: err.message, coverage }, null, 2));
      else console.error(`engram: ${status} ${err.code}: ${err.message}`);
      return 1;
    }
    console.error(`engram: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    client.close();
  }
}

/** Float32Arrays print as plain arrays in --json output. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return value instanceof Float32Array ? Array.from(value) : value;
}

process.exitCode = await main(process.argv.slice(2), process.env);
