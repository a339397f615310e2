#!/usr/bin/env node
/**
 * `engram-node`: runs one reference Engram node.
 *
 *   engram-node --id n1 --listen 127.0.0.1:7001 --data-dir ./data/n1 [--metrics 127.0.0.1:9101]
 *               [--gossip 127.0.0.1:7101 [--bootstrap | --seeds 127.0.0.1:7100] --cluster-key-file key.txt] [--replication-factor 2]
 *               [--tls-cert node.pem --tls-key node-key.pem --tls-ca ca.pem | --insecure]
 *
 * Every flag is also an environment variable (`--data-dir` ↔ `ENGRAM_DATA_DIR`; the flag wins).
 * Logs JSON lines on stderr through pino (`--log-level`). SIGTERM / SIGINT leave the cluster and
 * stop cleanly.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, EngramError } from '../errors.js';
import { parseHostPort } from './address.js';
import { EngramNode, type NodeConfig } from './engram-node.js';
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, isLogLevel, jsonLogger, type Logger } from '../util/logger.js';
import { envName, environmentHelp, nameTheVariable, parseArgsOptions, withEnvironment, type FlagValues, type MergedFlags } from './config-env.js';
import { resolveClusterKey } from './config-cluster-key.js';
import { loadTlsConfig } from '../security/tls-config.js';
import { ClientTokens } from '../security/client-tokens.js';
import { parseDiskFloor } from '../storage/disk-floor.js';
import { UUID_PATTERN } from '../cluster/meta/meta-fields.js';

const USAGE = `usage: engram-node --id ID --listen HOST:PORT --data-dir DIR [--metrics HOST:PORT]
           [--advertise HOST:PORT] (the gRPC address peers and clients are told; port 0 = the bound port;
            required in a cluster when --listen is 0.0.0.0 or ::)
           [--log-level trace|debug|info|warn|error] (JSON lines on stderr, default info)
           [--min-free-disk BYTES|PERCENT] (refuse writes with RESOURCE_EXHAUSTED while the data dir's disk has
            less free, e.g. 256MiB, 1GiB, 2%; default 256MiB; 0 turns it off)
           [--max-spaces N] (CreateSpace of a new space is refused with RESOURCE_EXHAUSTED once the node, or its
            cluster, holds N; default 10000)
  cluster: --gossip HOST:PORT [--bootstrap | --seeds HOST:PORT,…]
           [--cluster-key-file FILE | $ENGRAM_CLUSTER_KEY | --cluster-key KEY] (the shared secret; first of:
            --cluster-key on the command line, the file, $ENGRAM_CLUSTER_KEY; a file keeps it out of ps)
           (--bootstrap makes a new cluster; it is implied without --seeds when the data dir has none)
           [--cluster-id UUID] (only join / belong to this cluster)
           [--advertise-gossip HOST:PORT] (the gossip address members are told; default the --advertise host
            with the bound gossip port)
           [--meta-voters N] (metadata voters, default 3) [--reassign-after MS] (replace a voter or a space's copy down this long, default 60000)
           [--space-compact-every N] (compact a space group's Raft log every N entries, default 10000)
           [--rebalance on|off] (move copies to a node that joins until copies per node differ by at most one, default on)
           [--raft-tick-ms MS] (default 100; elections take 10-20 ticks)
           [--join-timeout-ms MS] (how long a new node tries its seeds before it gives up, default 60000)
           [--replication-factor N] [--partition-threshold X] [--heal-ms MS]
           [--probe-period-ms MS] [--probe-timeout-ms MS] [--suspect-timeout-ms MS]
  queries: [--copy-ranking on|off] (order a partition's copies by measured response time, default on)
           [--hedge-budget X] (extra calls hedged requests may add, share of calls 0..1, default 0.05; 0 turns hedging off)
  security: --tls-cert FILE --tls-key FILE --tls-ca FILE (PEM; mutual TLS between nodes, clients need the CA)
           --insecure (plaintext on a non-loopback --listen; loopback is plaintext by default)
           [--client-tokens FILE] (public calls need "authorization: Bearer TOKEN"; the file has one
            "TOKEN ROLE" a line, ROLE read|write|admin, # comments; read at start)
  testing: --enable-faults (the SetFault switch, loopback callers only)
           [--fault-callers ADDR,…] (more caller addresses allowed, e.g. a test bridge of this machine)`;

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0) throw new ConfigError(`--${name}`, `must be a whole number (got ${JSON.stringify(raw)})`);
  return n;
}

function num(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${name}`, `must be a number (got ${JSON.stringify(raw)})`);
  return n;
}

function config(values: FlagValues, fromEnv: ReadonlySet<string>, logger: Logger): NodeConfig {
  const s = (k: string) => values[k] as string | undefined;
  const base: NodeConfig = {
    id: s('id')!,
    listen: parseHostPort('--listen', s('listen')!),
    dataDir: s('data-dir')!,
    ...(s('metrics') ? { metrics: parseHostPort('--metrics', s('metrics')!) } : {}),
    ...(s('advertise') ? { advertise: parseHostPort('--advertise', s('advertise')!) } : {}),
    enableFaults: values['enable-faults'] === true,
    ...(s('fault-callers') ? { faultCallers: s('fault-callers')!.split(',').filter(Boolean) } : {}),
    insecure: values.insecure === true,
  };
  const ranking = s('copy-ranking');
  if (ranking !== undefined && ranking !== 'on' && ranking !== 'off') throw new ConfigError('--copy-ranking', 'must be on or off');
  const hedgeBudget = num('hedge-budget', s('hedge-budget'));
  if (hedgeBudget !== undefined && !(hedgeBudget >= 0 && hedgeBudget <= 1)) throw new ConfigError('--hedge-budget', `must be in 0..1 (got ${hedgeBudget})`);
  if (ranking !== undefined || hedgeBudget !== undefined) {
    base.query = { ...(ranking !== undefined ? { ranking: ranking === 'on' } : {}), ...(hedgeBudget !== undefined ? { hedging: { budget: hedgeBudget } } : {}) };
  }
  const maxSpaces = int('max-spaces', s('max-spaces'));
  if (maxSpaces === 0) throw new ConfigError('--max-spaces', 'must be at least 1');
  if (maxSpaces !== undefined) base.maxSpaces = maxSpaces;
  if (s('min-free-disk') !== undefined) base.minFreeDisk = parseDiskFloor(s('min-free-disk')!);
  if (s('client-tokens')) base.clientTokens = ClientTokens.load(s('client-tokens')!);
  const tls = loadTlsConfig({ ca: s('tls-ca'), cert: s('tls-cert'), key: s('tls-key') }, true);
  if (tls) base.tls = tls;
  if (!s('gossip')) {
    for (const flag of ['seeds', 'advertise-gossip', 'cluster-id', 'meta-voters', 'reassign-after', 'rebalance', 'space-compact-every', 'raft-tick-ms', 'join-timeout-ms']) if (s(flag)) throw new ConfigError(`--${flag}`, 'needs --gossip');
    if (values.bootstrap === true) throw new ConfigError('--bootstrap', 'needs --gossip');
    return base;
  }
  const clusterKey = resolveClusterKey(values, fromEnv, logger);
  if (!clusterKey) throw new ConfigError('--cluster-key-file', 'a cluster key is required with --gossip (--cluster-key-file FILE, $ENGRAM_CLUSTER_KEY_FILE, $ENGRAM_CLUSTER_KEY or --cluster-key)');
  parseHostPort('--gossip', s('gossip')!);
  const seeds = (s('seeds') ?? '').split(',').filter(Boolean);
  seeds.forEach((seed, i) => parseHostPort(`--seeds[${i}]`, seed));
  if (values.bootstrap === true && seeds.length > 0) throw new ConfigError('--bootstrap', 'makes a new cluster: it cannot be given with --seeds (a joining node uses --seeds alone)');
  const clusterId = s('cluster-id');
  if (clusterId !== undefined && !UUID_PATTERN.test(clusterId)) throw new ConfigError('--cluster-id', `must be a lowercase UUID (got ${JSON.stringify(clusterId)})`);
  const metaVoters = int('meta-voters', s('meta-voters'));
  if (metaVoters === 0) throw new ConfigError('--meta-voters', 'must be at least 1');
  const reassignAfterMs = int('reassign-after', s('reassign-after'));
  const raftTickMs = int('raft-tick-ms', s('raft-tick-ms'));
  const spaceCompactEvery = int('space-compact-every', s('space-compact-every'));
  if (spaceCompactEvery === 0) throw new ConfigError('--space-compact-every', 'must be at least 1');
  const rebalance = s('rebalance');
  if (rebalance !== undefined && rebalance !== 'on' && rebalance !== 'off') throw new ConfigError('--rebalance', 'must be on or off');
  const joinTimeoutMs = int('join-timeout-ms', s('join-timeout-ms'));
  if (raftTickMs === 0) throw new ConfigError('--raft-tick-ms', 'must be at least 1');
  const rf = int('replication-factor', s('replication-factor'));
  const threshold = num('partition-threshold', s('partition-threshold'));
  const healMs = int('heal-ms', s('heal-ms'));
  const probePeriodMs = int('probe-period-ms', s('probe-period-ms'));
  const probeTimeoutMs = int('probe-timeout-ms', s('probe-timeout-ms'));
  const suspectToDownMs = int('suspect-timeout-ms', s('suspect-timeout-ms'));
  return {
    ...base,
    cluster: {
      gossipAddress: s('gossip')!,
      ...(s('advertise-gossip') ? { advertiseGossip: (parseHostPort('--advertise-gossip', s('advertise-gossip')!), s('advertise-gossip')!) } : {}),
      seeds,
      clusterKey,
      ...(clusterId !== undefined ? { clusterId } : {}),
      ...(metaVoters !== undefined ? { metaVoters } : {}),
      ...(reassignAfterMs !== undefined ? { reassignAfterMs } : {}),
      ...(rebalance !== undefined ? { rebalance: rebalance === 'on' } : {}),
      ...(spaceCompactEvery !== undefined ? { spaceCompactEvery } : {}),
      ...(raftTickMs !== undefined ? { raftTickMs } : {}),
      ...(joinTimeoutMs !== undefined ? { joinTimeoutMs } : {}),
      ...(rf !== undefined ? { replicationFactor: rf } : {}),
      ...(threshold !== undefined ? { partitionThreshold: threshold } : {}),
      ...(healMs !== undefined ? { healMs } : {}),
      swim: {
        ...(probePeriodMs !== undefined ? { probePeriodMs } : {}),
        ...(probeTimeoutMs !== undefined ? { probeTimeoutMs } : {}),
        ...(suspectToDownMs !== undefined ? { suspectToDownMs } : {}),
      },
    },
  };
}

/** A logger before the node's id and level are known: for errors of the configuration itself. */
function earlyLogger(values: FlagValues): Logger {
  return jsonLogger(String(values.id ?? process.env[envName('id')] ?? 'engram-node'));
}

/** grpc-js's own messages (e.g. a port in use) as JSON lines too, so every stderr line parses. */
function routeGrpcLogs(logger: Logger): void {
  const line = (args: unknown[]) => ({ detail: args.map(String).join(' ').replace(/^[EID] /, '') });
  grpc.setLogger({
    error: (...args: unknown[]) => logger.error('grpc', line(args)),
    info: (...args: unknown[]) => logger.info('grpc', line(args)),
    debug: (...args: unknown[]) => logger.debug?.('grpc', line(args)),
  });
}

function startFailed(logger: Logger, err: unknown): never {
  logger.error('start failed', { error: err instanceof Error ? err.message : String(err), code: err instanceof EngramError ? err.code : undefined });
  process.exit(1);
}

async function main(): Promise<void> {
  let argv: FlagValues;
  try {
    ({ values: argv } = parseArgs({ options: parseArgsOptions(), strict: true }));
  } catch (err) {
    console.error(`engram-node: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (argv.help) {
    console.log(`${USAGE}\n${environmentHelp()}`);
    return;
  }
  let merged: MergedFlags;
  try {
    merged = withEnvironment(argv, process.env);
  } catch (err) {
    startFailed(earlyLogger(argv), err);
  }
  const { values, fromEnv } = merged;
  for (const required of ['id', 'listen', 'data-dir'] as const) {
    if (!values[required]) {
      console.error(`engram-node: --${required} (or $${envName(required)}) is required\n${USAGE}`);
      process.exit(2);
    }
  }
  const level = (values['log-level'] as string | undefined) ?? DEFAULT_LOG_LEVEL;
  if (!isLogLevel(level)) startFailed(earlyLogger(values), nameTheVariable(new ConfigError('--log-level', `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`), fromEnv));
  const logger = jsonLogger(values.id as string, { level });
  routeGrpcLogs(logger);
  let node: EngramNode;
  try {
    node = await EngramNode.start({ ...config(values, fromEnv, logger), logger });
  } catch (err) {
    startFailed(logger, nameTheVariable(err, fromEnv));
  }
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info('stopping', { signal });
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

process.on('unhandledRejection', (err) => {
  jsonLogger('engram-node').error('unhandled rejection', { error: String(err) });
  process.exit(1);
});

await main();
