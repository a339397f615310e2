/**
 * The node's logs: JSON lines through pino that keep the fields their readers use (`msg`,
 * `node`, a string `level`, an ISO `ts`), and `--log-level`. Real node processes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { NODE_MAIN } from '../src/cluster/node-process.js';
import { EngramClient } from '../src/client/engram-client.js';
import { jsonLogger } from '../src/util/logger.js';
import { NodeFixture } from './helpers/node.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

function assertLogLine(line: Record<string, unknown> | string, node: string): void {
  assert.equal(typeof line, 'object', `a JSON line: ${String(line)}`);
  const l = line as Record<string, unknown>;
  assert.equal(typeof l.msg, 'string', JSON.stringify(l));
  assert.equal(l.node, node, JSON.stringify(l));
  assert.ok(LEVELS.includes(l.level as string), `a level name: ${JSON.stringify(l)}`);
  assert.equal(typeof l.ts, 'string');
  assert.equal(new Date(l.ts as string).toISOString(), l.ts, 'ts is an ISO time');
}

/** Every stderr line parsed; Node's own warnings (not ours) are left out. */
function collect(child: ReturnType<typeof spawn>): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stderr! }).on('line', (raw) => {
    if (raw.startsWith('(node:') || raw.startsWith('(Use `node')) return;
    lines.push(JSON.parse(raw) as Record<string, unknown>);
  });
  return lines;
}

function closed(child: ReturnType<typeof spawn>): Promise<number | string> {
  // 'close' comes after stderr ended, so every line has been read by then
  return new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** Polls `via`'s status until `member` is alive there; its gRPC address. */
async function memberAddress(via: EngramClient, member: string, deadlineMs: number): Promise<string> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    const m = (await via.status()).members.find((x) => x.id === member && x.state === 'alive' && x.grpcAddress);
    if (m) return m.grpcAddress;
    if (performance.now() > until) throw new Error(`${member} not alive within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('engram-node logs', () => {
  const fx = new NodeFixture();
  const children: ReturnType<typeof spawn>[] = [];
  const clients: EngramClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await fx.cleanup();
  });

  it('writes JSON lines with msg, node, a level name and an ISO ts, the started line with its addresses', async () => {
    const lines: (Record<string, unknown> | string)[] = [];
    const n = await fx.start('logs1', undefined, { metrics: '127.0.0.1:0', onLog: (l) => lines.push(l) });
    await n.client.createSpace('logged', { dimension: 2 });
    assert.equal(await n.proc.stop(), 0);
    const ours = lines.filter((l) => !(typeof l === 'string' && (l.startsWith('(node:') || l.startsWith('(Use `node'))));
    for (const l of ours) assertLogLine(l, 'logs1');
    const byMsg = new Map(ours.map((l) => [(l as Record<string, unknown>).msg, l as Record<string, unknown>]));
    const started = byMsg.get('started');
    assert.ok(started);
    assert.equal(started.level, 'info');
    assert.equal(started.grpc, n.proc.grpcAddress);
    assert.equal(started.metrics, n.proc.metricsAddress);
    assert.deepEqual(['stopping', 'stopped'].map((m) => byMsg.get(m)?.level), ['info', 'info']);
    assert.equal(byMsg.get('stopping')?.signal, 'SIGTERM');
  });

  it('--log-level warn drops the info lines of a node that serves, and keeps errors', { timeout: 90_000 }, async () => {
    const dir = await fx.tempDir();
    const key = { ENGRAM_CLUSTER_KEY: 'log-level-key' };
    const n1 = await fx.start('lv1', join(dir, 'lv1'), { env: key, extraArgs: ['--gossip', '127.0.0.1:0', '--bootstrap'] });
    const lv2 = spawn(process.execPath, [NODE_MAIN, '--id', 'lv2', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'lv2'), '--gossip', '127.0.0.1:0', '--seeds', n1.proc.gossipAddress, '--log-level', 'warn'], {
      env: { ...process.env, ...key },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(lv2);
    const lv2Lines = collect(lv2);
    const lv2Closed = closed(lv2);
    // lv2 logs nothing at warn when all goes well: it is seen up through lv1's status
    const grpc = await memberAddress(n1.client, 'lv2', 30_000);
    const c2 = new EngramClient({ nodes: [grpc], deadlineMs: 20_000, routing: 'any' });
    clients.push(c2);
    assert.equal((await c2.status()).nodeId, 'lv2');
    // Serving is not yet started: the node answers Status while it still joins. It reports its
    // gossip address once its cluster is up, and from there to its started line and its SIGTERM
    // handler nothing waits on I/O, so no request is answered in between.
    const until = performance.now() + 30_000;
    while ((await c2.status()).gossipAddress === '') {
      assert.ok(performance.now() < until, 'lv2 finished starting');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    lv2.kill('SIGTERM');
    assert.equal(await lv2Closed, 0);
    assert.deepEqual(lv2Lines.filter((l) => l.level === 'info' || l.level === 'debug'), [], 'no info line at warn');

    // an error still gets through at warn: lv3 cannot bind lv1's gRPC port
    const lv3 = spawn(process.execPath, [NODE_MAIN, '--id', 'lv3', '--listen', n1.proc.grpcAddress, '--data-dir', join(dir, 'lv3'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(lv3);
    const lv3Lines = collect(lv3);
    assert.equal(await closed(lv3), 1);
    // every line JSON (grpc-js's own complaint included), none below warn, the failure among them
    for (const l of lv3Lines) assertLogLine(l, 'lv3');
    assert.deepEqual(lv3Lines.filter((l) => l.level !== 'error' && l.level !== 'warn'), []);
    const failed = lv3Lines.find((l) => l.msg === 'start failed');
    assert.equal(failed?.level, 'error', JSON.stringify(lv3Lines));
    assert.match(String(failed.error), /EADDRINUSE/);
  });

  it('jsonLogger keeps fields, filters by level, and still takes a stream as its second argument', () => {
    const chunks: string[] = [];
    const out = { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream;
    const log = jsonLogger('lib', { level: 'warn', destination: out });
    log.debug?.('quiet', {});
    log.info('quiet');
    log.warn('loud', { space: 's1', n: 2 });
    log.error('louder');
    const legacy = jsonLogger('legacy', out);
    legacy.debug?.('dropped at the default info');
    legacy.info('kept', { a: 1 });
    const lines = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.node, l.level, l.msg]), [['lib', 'warn', 'loud'], ['lib', 'error', 'louder'], ['legacy', 'info', 'kept']]);
    assert.equal(lines[0]!.space, 's1');
    assert.equal(lines[0]!.n, 2);
    assert.equal(lines[2]!.a, 1);
    for (const l of lines) assertLogLine(l, String(l.node));
  });
});
