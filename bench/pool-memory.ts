/**
 * P8 memory per pooled connection (DESIGN §6).
 *
 * One child process serves 100 tiny EngramInternal servers on 127.0.0.1:0 (pool-memory-servers.ts).
 * Then, R times, a fresh measuring process (`node --expose-gc`, this file with --measure) holds
 * only a ConnectionPool: it makes one ExecuteLocal call to 1, 10, 50 and 100 distinct addresses
 * in turn (each call opens that address's connection, the earlier ones stay pooled), forces GC
 * and reads process.memoryUsage() at each step. Per connection = (at 100 − at 1) / 99, for rss
 * and for heapUsed + external; the figure judged is rss (what the OS charges), median of R.
 *
 *   node dist/bench/pool-memory.js [--quick] [--rounds R] [--out <dir>]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { argInt, loadavg, printTable, round, writeResults } from './common.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const ROUNDS = argInt('--rounds', quick ? 1 : 5);
const CONNECTIONS = 100;
const STEPS = [1, 10, 50, 100];
const MB = 2 ** 20;

interface Step { connections: number; rssMB: number; heapPlusExternalMB: number; heapUsedMB: number; externalMB: number; open: number }

async function settledMemory(): Promise<Omit<Step, 'connections' | 'open'>> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
  }
  const m = process.memoryUsage();
  return { rssMB: m.rss / MB, heapPlusExternalMB: (m.heapUsed + m.external) / MB, heapUsedMB: m.heapUsed / MB, externalMB: m.external / MB };
}

/** The measuring process: only a pool, and one call per address. */
async function measureProcess(addresses: string[]): Promise<void> {
  const { ConnectionPool } = await import('../src/pool/connection-pool.js');
  const { queryToWire } = await import('../src/query/to-wire.js');
  const request = { query: queryToWire({ kind: 'recall', space: 'p8-bench', cue: { embedding: new Float32Array(2) } }), partition: 'p8-bench' };
  const call = (pool: InstanceType<typeof ConnectionPool>, address: string) => pool.unary(address, 'ExecuteLocal', request, { deadline: Date.now() + 10_000 });
  // Warm the code paths (module loading, proto parsing, JIT) on a throwaway pool.
  const warm = new ConnectionPool();
  await call(warm, addresses[0]!);
  warm.close();
  await tick();

  const pool = new ConnectionPool();
  const steps: Step[] = [];
  let made = 0;
  for (const target of STEPS) {
    for (; made < target; made++) await call(pool, addresses[made]!);
    steps.push({ connections: target, open: pool.stats().open, ...(await settledMemory()) });
  }
  const stats = pool.stats();
  pool.close();
  process.stdout.write(JSON.stringify({ steps, stats }) + '\n');
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadStart = loadavg();
  console.log(`P8 memory per pooled connection (${ROUNDS} rounds of 1 → ${CONNECTIONS} connections): loadavg ${loadStart.join(' ')}`);
  const servers = spawn(process.execPath, [join(HERE, 'pool-memory-servers.js'), String(CONNECTIONS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => servers.once('exit', resolve));
  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: servers.stdout! }).once('line', resolve);
      servers.once('exit', (code) => reject(new Error(`servers exited (${code}) before binding`)));
    });
    const addresses = (JSON.parse(first) as { addresses: string[] }).addresses;
    if (new Set(addresses).size !== CONNECTIONS) throw new Error(`expected ${CONNECTIONS} distinct addresses`);

    const rounds: { steps: Step[]; stats: Record<string, number> }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const m = spawnSync(process.execPath, ['--expose-gc', join(HERE, 'pool-memory.js'), '--measure'], {
        env: { ...process.env, ENGRAM_BENCH_ADDRESSES: addresses.join(',') },
        encoding: 'utf8',
        timeout: 120_000,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (m.status !== 0) throw new Error(`measuring process failed (${m.status ?? m.signal})`);
      const round1 = JSON.parse(m.stdout.trim().split('\n').pop()!) as (typeof rounds)[number];
      if (round1.stats.open !== CONNECTIONS || round1.stats.connectionsCreated !== CONNECTIONS) throw new Error(`pool did not hold ${CONNECTIONS} connections: ${JSON.stringify(round1.stats)}`);
      rounds.push(round1);
    }
    const perConn = rounds.map((r) => {
      const a = r.steps[0]!;
      const b = r.steps[r.steps.length - 1]!;
      const n = b.connections - a.connections;
      return { rssMB: (b.rssMB - a.rssMB) / n, heapPlusExternalMB: (b.heapPlusExternalMB - a.heapPlusExternalMB) / n };
    });
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const rssPer = median(perConn.map((p) => p.rssMB));
    const heapPer = median(perConn.map((p) => p.heapPlusExternalMB));
    const loadEnd = loadavg();
    printTable(`P8 process memory of a ConnectionPool, after GC (round 1 of ${ROUNDS}; loadavg ${loadEnd.join(' ')})`, rounds[0]!.steps.map((s) => ({
      connections: s.connections, open: s.open, 'rss MB': round(s.rssMB, 2), 'heapUsed+external MB': round(s.heapPlusExternalMB, 3), 'heapUsed MB': round(s.heapUsedMB, 3), 'external MB': round(s.externalMB, 3),
    })));
    printTable('P8 per connection, (100 − 1) / 99, each round', perConn.map((p, i) => ({ round: i + 1, 'rss MB/conn': round(p.rssMB, 4), 'heap+external MB/conn': round(p.heapPlusExternalMB, 4) })));
    const target = {
      what: 'process memory per pooled connection (rss, (100 - 1 connections) / 99, median of rounds); heapUsed+external alongside',
      valueMB: round(rssPer, 4), rssMBPerConnection: round(rssPer, 4), heapPlusExternalMBPerConnection: round(heapPer, 4),
      target: '< 10 MB', goal: '< 0.5 MB', targetMet: rssPer < 10, goalMet: rssPer < 0.5,
    };
    printTable('targets (DESIGN §6)', [{ id: 'P8', 'rss MB/conn': target.rssMBPerConnection, 'heap+ext MB/conn': target.heapPlusExternalMBPerConnection, target: target.target, goal: target.goal, 'target met': target.targetMet, 'goal met': target.goalMet }]);
    const path = writeResults('pool-memory.json', `node dist/bench/pool-memory.js ${args.join(' ')}`.trim(), {
      quick,
      durationS: round((performance.now() - t0) / 1000, 1),
      loadavg: { start: loadStart, end: loadEnd },
      setup: { connections: CONNECTIONS, steps: STEPS, rounds: ROUNDS, servers: `${CONNECTIONS} grpc-js servers on 127.0.0.1:0 in one child process`, measuringProcess: 'node --expose-gc, a fresh process per round holding only the pool' },
      targets: { P8: target },
      perConnection: perConn.map((p) => ({ rssMB: round(p.rssMB, 4), heapPlusExternalMB: round(p.heapPlusExternalMB, 4) })),
      rounds: rounds.map((r) => ({ steps: r.steps.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 4)]))), stats: r.stats })),
    });
    console.log(`wrote ${path}`);
  } finally {
    servers.stdin!.end();
    await exited;
  }
}

if (args.includes('--measure')) {
  measureProcess((process.env.ENGRAM_BENCH_ADDRESSES ?? '').split(',').filter(Boolean)).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
