/**
 * engram-node configured by environment: every flag as ENGRAM_<FLAG>, argv over environment,
 * bad variables named in the error, and the cluster key from a file. Real node processes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_MAIN } from '../src/cluster/node-process.js';
import { EngramClient } from '../src/client/engram-client.js';
import { NODE_FLAGS, envName } from '../src/node/config-env.js';
import { NodeFixture } from './helpers/node.js';

const START_TIMEOUT_MS = 20_000;

/** The test runner's environment without any ENGRAM_* variable, so only what a test sets counts. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ENGRAM_')) env[k] = v;
  return { ...env, ...extra };
}

interface Run {
  lines: Record<string, unknown>[];
  /** The `started` line, or rejects with the lines so far when the process exits first. */
  started: Promise<Record<string, unknown>>;
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

/** engram-node with exactly these args and ENGRAM_* variables (startNodeProcess always passes --id/--listen/--data-dir). */
function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [NODE_MAIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  // 'close' comes after stderr ended, so every line has been read by then
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  const lines: Record<string, unknown>[] = [];
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no started line within ${START_TIMEOUT_MS} ms: ${JSON.stringify(lines)}`)), START_TIMEOUT_MS);
    timer.unref();
    createInterface({ input: child.stderr! }).on('line', (raw) => {
      const line = JSON.parse(raw) as Record<string, unknown>;
      lines.push(line);
      if (line.msg === 'started') {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before starting: ${JSON.stringify(lines)}`));
    });
  });
  started.catch(() => undefined);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return { lines, started, exited, stop };
}

/** Runs a node that must refuse to start; its exit code and `start failed` line. */
async function refused(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; error: string; errCode: unknown }> {
  const r = run(args, env);
  const code = await r.exited;
  const failed = r.lines.find((l) => l.msg === 'start failed');
  assert.ok(failed, `no start failed line: ${JSON.stringify(r.lines)}`);
  return { code, error: String(failed.error), errCode: failed.code };
}

describe('engram-node configuration', () => {
  const fx = new NodeFixture();
  const runs: Run[] = [];
  const clients: EngramClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(runs.map((r) => r.stop()));
    await fx.cleanup();
  });
  const client = (address: string) => {
    const c = new EngramClient({ nodes: [address], deadlineMs: 20_000, routing: 'any' });
    clients.push(c);
    return c;
  };

  it('configures a node from ENGRAM_* variables alone, the same as from flags', async () => {
    const dataDir = join(await fx.tempDir(), 'env1');
    const settings: Record<string, string> = {
      id: 'env1',
      listen: '127.0.0.1:0',
      'data-dir': dataDir,
      metrics: '127.0.0.1:0',
      gossip: '127.0.0.1:0',
      'cluster-key': 'env-cluster-key',
      'replication-factor': '1',
    };
    const env = Object.fromEntries(Object.entries(settings).map(([k, v]) => [envName(k), v]));
    const byEnv = run([], env);
    runs.push(byEnv);
    const started = await byEnv.started;
    assert.match(String(started.gossip), /^127\.0\.0\.1:\d+$/);
    const c1 = client(String(started.grpc));
    await c1.createSpace('from-env', { dimension: 2 });
    const s1 = await c1.status();
    assert.equal(s1.nodeId, 'env1');
    assert.deepEqual(s1.spaces.map((s) => s.id), ['from-env']);
    assert.ok(s1.meta?.clusterId, 'the node made a cluster');
    assert.equal((await fetch(`http://${String(started.metrics)}/metrics`)).status, 200);
    assert.equal(await byEnv.stop(), 0);

    // the same settings as flags on the same data dir: the same node of the same cluster
    const byFlags = run(Object.entries(settings).flatMap(([k, v]) => [`--${k}`, v]));
    runs.push(byFlags);
    const c2 = client(String((await byFlags.started).grpc));
    const s2 = await c2.status();
    assert.equal(s2.nodeId, s1.nodeId);
    assert.equal(s2.storageId, s1.storageId);
    assert.equal(s2.meta?.clusterId, s1.meta?.clusterId);
    assert.deepEqual(s2.spaces.map((s) => s.id), ['from-env']);
    assert.equal(await byFlags.stop(), 0);
  });

  it('lets a flag on the command line win over its variable', async () => {
    // ENGRAM_HEDGE_BUDGET is out of range: the flag wins, so it is never looked at
    const n = await fx.start('from-argv', undefined, { env: { ENGRAM_ID: 'from-env', ENGRAM_HEDGE_BUDGET: '7' }, extraArgs: ['--hedge-budget', '0.1'] });
    assert.equal((await n.client.status()).nodeId, 'from-argv');
  });

  it('refuses a bad variable with the error of its flag, naming the variable', async () => {
    const dir = await fx.tempDir();
    const viaEnv = await refused([], { ENGRAM_ID: 'bad', ENGRAM_LISTEN: '127.0.0.1:0', ENGRAM_DATA_DIR: dir, ENGRAM_HEDGE_BUDGET: 'lots' });
    const viaFlag = await refused(['--id', 'bad', '--listen', '127.0.0.1:0', '--data-dir', dir, '--hedge-budget', 'lots']);
    assert.equal(viaEnv.code, 1);
    assert.equal(viaEnv.errCode, 'ERR_CONFIG');
    assert.equal(viaEnv.error, '$ENGRAM_HEDGE_BUDGET: must be a number (got "lots")');
    assert.equal(viaFlag.error, '--hedge-budget: must be a number (got "lots")');
    const boolean = await refused(['--id', 'bad', '--listen', '127.0.0.1:0', '--data-dir', dir], { ENGRAM_ENABLE_FAULTS: 'maybe' });
    assert.equal(boolean.code, 1);
    assert.match(boolean.error, /^\$ENGRAM_ENABLE_FAULTS: must be 1, true, yes, 0, false or no/);
    const level = await refused(['--id', 'bad', '--listen', '127.0.0.1:0', '--data-dir', dir], { ENGRAM_LOG_LEVEL: 'loud' });
    assert.match(level.error, /^\$ENGRAM_LOG_LEVEL: must be one of trace, debug, info, warn, error/);
  });

  it('names every flag with its variable in --help', async () => {
    const child = spawn(process.execPath, [NODE_MAIN, '--help'], { env: cleanEnv({}), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.once('close', resolve));
    assert.equal(code, 0);
    for (const f of NODE_FLAGS.filter((f) => f.name !== 'help')) {
      assert.match(out, new RegExp(`^\\s+--${f.name}\\s+\\$${envName(f.name)}\\b`, 'm'), `--help names ${envName(f.name)}`);
    }
    assert.match(out, /\$ENGRAM_DATA_DIR/);
    assert.match(out, /--cluster-key-file/);
  });

  it('reads the cluster key from a file, before $ENGRAM_CLUSTER_KEY', async () => {
    const dir = await fx.tempDir();
    const keyFile = join(dir, 'cluster.key');
    await writeFile(keyFile, 'file-cluster-key\n', { mode: 0o600 });
    const n1 = run(['--id', 'k1', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'k1'), '--gossip', '127.0.0.1:0', '--cluster-key-file', keyFile]);
    runs.push(n1);
    const s1 = await n1.started;
    assert.equal(n1.lines.filter((l) => l.level === 'warn').length, 0, 'a 0600 key file is not warned about');
    // n2 has a wrong key in $ENGRAM_CLUSTER_KEY and the right one in its file: the file wins, it joins
    const n2 = run(['--id', 'k2', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'k2'), '--gossip', '127.0.0.1:0', '--seeds', String(s1.gossip)], {
      ENGRAM_CLUSTER_KEY: 'wrong-key',
      ENGRAM_CLUSTER_KEY_FILE: keyFile,
    });
    runs.push(n2);
    const s2 = await n2.started;
    const joined = n2.lines.find((l) => l.msg === 'joined cluster');
    assert.ok(joined, `k2 joined: ${JSON.stringify(n2.lines)}`);
    assert.equal((await client(String(s2.grpc)).status()).meta?.clusterId, (await client(String(s1.grpc)).status()).meta?.clusterId);
  });

  it('refuses a missing or empty key file clearly, and warns about one others can read', async () => {
    const dir = await fx.tempDir();
    const base = (id: string) => ['--id', id, '--listen', '127.0.0.1:0', '--data-dir', join(dir, id), '--gossip', '127.0.0.1:0'];
    const missing = await refused([...base('m'), '--cluster-key-file', join(dir, 'nope.key')]);
    assert.equal(missing.code, 1);
    assert.match(missing.error, /^--cluster-key-file: cannot read ".*nope\.key": ENOENT/);
    const missingEnv = await refused(base('m'), { ENGRAM_CLUSTER_KEY_FILE: join(dir, 'nope.key') });
    assert.match(missingEnv.error, /^\$ENGRAM_CLUSTER_KEY_FILE: cannot read/);
    const empty = join(dir, 'empty.key');
    await writeFile(empty, '\n', { mode: 0o600 });
    const emptied = await refused([...base('e'), '--cluster-key-file', empty]);
    assert.equal(emptied.code, 1);
    assert.match(emptied.error, /^--cluster-key-file: ".*empty\.key" is empty/);
    const both = await refused([...base('b'), '--cluster-key', 'k', '--cluster-key-file', empty]);
    assert.match(both.error, /either --cluster-key or --cluster-key-file/);
    const none = await refused(base('n'));
    assert.match(none.error, /a cluster key is required with --gossip/);

    const open = join(dir, 'open.key');
    await writeFile(open, 'open-key');
    await chmod(open, 0o644);
    const loose = run([...base('o'), '--bootstrap', '--cluster-key-file', open]);
    runs.push(loose);
    await loose.started;
    const warned = loose.lines.find((l) => l.msg === 'cluster key file is accessible by group or others');
    assert.ok(warned, JSON.stringify(loose.lines));
    assert.equal(warned.level, 'warn');
    assert.equal(warned.mode, '0644');
    assert.ok(!JSON.stringify(loose.lines).includes('open-key'), 'the key itself is never logged');
  });
});
