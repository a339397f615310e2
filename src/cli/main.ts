#!/usr/bin/env node
/**
 * `engram`: a command-line client for any Engram node. Exit codes: 0 ok, 1 the node refused
 * or failed, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { EngramClient } from '../client/engram-client.js';
import { EngramError } from '../errors.js';
import { runCommand, UsageError, USAGE } from './commands.js';
import { loadTlsConfig, type TlsConfig } from '../security/tls-config.js';

/** Node address used when neither --node nor ENGRAM_NODE is given. */
export const DEFAULT_NODE = '127.0.0.1:7001';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        node: { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'timeout-ms': { type: 'string' },
        'no-partial': { type: 'boolean' },
        'min-coverage': { type: 'string' },
        dimension: { type: 'string' },
        primary: { type: 'string' },
        replicas: { type: 'string' },
        copies: { type: 'string' },
        batch: { type: 'string' },
        ack: { type: 'string' },
        text: { type: 'string' },
        embedding: { type: 'string' },
        limit: { type: 'string' },
        threshold: { type: 'string' },
        seeds: { type: 'string' },
        hops: { type: 'string' },
        decay: { type: 'string' },
        values: { type: 'string' },
        known: { type: 'string' },
        'known-fraction': { type: 'string' },
        neighbours: { type: 'string' },
        novelty: { type: 'string' },
      },
    });
  } catch (err) {
    console.error(`engram: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help || parsed.positionals.length === 0) {
    console.log(USAGE);
    return parsed.values.help ? 0 : 2;
  }
  let tls: TlsConfig | undefined;
  try {
    tls = loadTlsConfig({ ca: parsed.values['tls-ca'], cert: parsed.values['tls-cert'], key: parsed.values['tls-key'] }, false);
  } catch (err) {
    console.error(`engram: ${(err as Error).message}`);
    return 2;
  }
  const client = new EngramClient({ nodes: (parsed.values.node ?? process.env.ENGRAM_NODE ?? DEFAULT_NODE).split(','), ...(tls ? { tls } : {}) });
  try {
    const out = await runCommand(client, parsed.positionals, parsed.values);
    console.log(parsed.values.json ? JSON.stringify(out.json, jsonReplacer, 2) : out.text);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`engram: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof EngramError) {
      // The status and the stable code first: what a script matches on.
      const status = grpcStatus[err.grpcStatus];
      const coverage = (err as { coverage?: unknown }).coverage;
      if (parsed.values.json) console.error(JSON.stringify({ error: status, code: err.code, message: err.message, coverage }, null, 2));
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

process.exitCode = await main(process.argv.slice(2));
