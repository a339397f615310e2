/**
 * Probes an operator points at a node: grpc.health.v1 (Check and Watch), server reflection of
 * the public service, /healthz and /readyz next to /metrics — SERVING between start and the
 * beginning of a stop, NOT_SERVING while it drains.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { EngramNode } from '../src/node/engram-node.js';
import { NodeHealth } from '../src/node/health.js';
import { protos } from '../src/wire/proto.js';
import { NodeFixture } from './helpers/node.js';

type Client = grpc.Client & Record<string, Function>;
const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

function check(address: string, service: string): Promise<string> {
  const c = new HealthClient(address, grpc.credentials.createInsecure()) as Client;
  return new Promise<{ status: string }>((resolve, reject) =>
    c.Check!({ service }, { deadline: Date.now() + 5_000 }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res))),
  ).then((r) => r.status).finally(() => c.close());
}

/** A Watch stream and the statuses it has seen; `next(s)` resolves when `s` arrives. */
function watch(address: string, service: string) {
  const c = new HealthClient(address, grpc.credentials.createInsecure()) as Client;
  const call = c.Watch!({ service }) as grpc.ClientReadableStream<{ status: string }>;
  const seen: string[] = [];
  const waiters: { status: string; resolve: () => void }[] = [];
  call.on('data', (m: { status: string }) => {
    seen.push(m.status);
    for (const w of waiters.filter((x) => x.status === m.status)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  call.on('error', () => undefined);
  return {
    seen,
    next: (status: string) => (seen.includes(status) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ status, resolve }))),
    close: () => {
      call.cancel();
      c.close();
    },
  };
}

/** A Status call held by the node's fault delay until `cancel()`: something in flight during a drain. */
function heldCall(address: string) {
  const { PublicClient } = protos();
  const c = new PublicClient(address, grpc.credentials.createInsecure()) as Client;
  let call: grpc.ClientUnaryCall | undefined;
  const settled = new Promise<grpc.ServiceError | null>((resolve) => {
    call = c.Status!({}, { deadline: Date.now() + 60_000 }, (err: grpc.ServiceError | null) => resolve(err));
  }).finally(() => c.close());
  return { cancel: () => call!.cancel(), settled };
}

async function setDelay(address: string, delayMs: number): Promise<void> {
  const { InternalClient } = protos();
  const c = new InternalClient(address, grpc.credentials.createInsecure()) as Client;
  try {
    await new Promise<void>((resolve, reject) =>
      c.SetFault!({ cutOff: false, delayMs, collectGarbage: false }, { deadline: Date.now() + 5_000 }, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  } finally {
    c.close();
  }
}

/** Resolves once the node serves at least one unary call (a stop then has something to drain). */
async function untilInFlight(metricsAddress: string): Promise<void> {
  // Polls a condition the node reports, never a fixed sleep.
  for (;;) {
    const body = await (await fetch(`http://${metricsAddress}/metrics`)).text();
    if (/^engram_rpc_in_flight\{[^}]*\} [1-9]/m.test(body)) return;
    await new Promise((r) => setImmediate(r));
  }
}

describe('node health', () => {
  const roots: string[] = [];
  const fx = new NodeFixture();
  after(async () => {
    await fx.cleanup();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  async function startInProcess(id: string) {
    const root = await mkdtemp(join(os.tmpdir(), 'engram-health-'));
    roots.push(root);
    return EngramNode.start({ id, listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, id), metrics: { host: '127.0.0.1', port: 0 }, enableFaults: true });
  }

  it('NodeHealth: NOT_SERVING while starting, SERVING, then NOT_SERVING for good once draining', async () => {
    const health = new NodeHealth();
    const server = new grpc.Server();
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const address = `127.0.0.1:${port}`;
    try {
      assert.equal(await check(address, ''), 'NOT_SERVING');
      assert.equal(await check(address, 'engram.v1.Engram'), 'NOT_SERVING');
      assert.deepEqual(health.ready(), { ready: false, state: 'starting', reason: 'the node has not yet joined its cluster and loaded its spaces' });
      health.set('serving');
      assert.equal(await check(address, 'engram.v1.Engram'), 'SERVING');
      health.set('draining');
      health.set('serving');
      assert.equal(await check(address, ''), 'NOT_SERVING');
      assert.equal(health.ready().state, 'draining');
    } finally {
      server.forceShutdown();
    }
  });

  it('grpc.health.v1: SERVING after start, NOT_SERVING from the moment a stop begins (Watch sees it)', async () => {
    const node = await startInProcess('h1');
    try {
      assert.equal(await check(node.grpcAddress, ''), 'SERVING');
      assert.equal(await check(node.grpcAddress, 'engram.v1.Engram'), 'SERVING');
      // An unknown service is NOT_FOUND, as the protocol says.
      await assert.rejects(check(node.grpcAddress, 'no.such.Service'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      const w = watch(node.grpcAddress, 'engram.v1.Engram');
      await w.next('SERVING');
      // A call in flight keeps the drain open while the probes are asked.
      await setDelay(node.grpcAddress, 60_000);
      const held = heldCall(node.grpcAddress);
      await untilInFlight(node.metricsAddress);
      const stopped = node.stop(30_000);
      await w.next('NOT_SERVING');
      assert.deepEqual(w.seen, ['SERVING', 'NOT_SERVING']);
      const ready = await fetch(`http://${node.metricsAddress}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { ready: boolean; state: string; reason: string };
      assert.equal(body.ready, false);
      assert.equal(body.state, 'draining');
      assert.match(body.reason, /stopping/);
      assert.equal((await fetch(`http://${node.metricsAddress}/healthz`)).status, 200);
      held.cancel();
      await held.settled;
      await stopped;
      w.close();
    } finally {
      await node.stop();
    }
  });

  it('server reflection lists the public service', async () => {
    const node = await startInProcess('r1');
    try {
      const require = createRequire(import.meta.url);
      const reflectionProto = join(require.resolve('@grpc/reflection/package.json'), '..', 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
      const def = protoLoader.loadSync(reflectionProto, { keepCase: true, defaults: true, oneofs: true });
      const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
      const c = new pkg.grpc.reflection.v1.ServerReflection(node.grpcAddress, grpc.credentials.createInsecure()) as Client;
      const call = c.ServerReflectionInfo!() as grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>;
      const answer = new Promise<string[]>((resolve, reject) => {
        call.once('data', (m: { list_services_response?: { service: { name: string }[] } }) => resolve((m.list_services_response?.service ?? []).map((s) => s.name)));
        call.once('error', reject);
      });
      call.write({ list_services: '' });
      const names = await answer;
      call.end();
      c.close();
      assert.ok(names.includes('engram.v1.Engram'), names.join(', '));
      assert.ok(!names.includes('engram.v1.EngramInternal'), 'the internal service is not advertised');
    } finally {
      await node.stop();
    }
  });

  it('/readyz is 503 during a SIGTERM drain while /healthz stays 200; both 200 while serving', async () => {
    const n = await fx.start('drain', undefined, { metrics: '127.0.0.1:0', extraArgs: ['--enable-faults'] });
    const base = `http://${n.proc.metricsAddress}`;
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, state: 'serving', reason: 'serving' });
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const w = watch(n.proc.grpcAddress, '');
    await w.next('SERVING');
    await setDelay(n.proc.grpcAddress, 60_000);
    const held = heldCall(n.proc.grpcAddress);
    await untilInFlight(n.proc.metricsAddress);
    n.proc.child.kill('SIGTERM');
    // The Watch stream says when the drain has begun; the node then stays up until the held
    // call ends (or its 2 s grace runs out), which is the window the HTTP probes are asked in.
    await w.next('NOT_SERVING');
    const during = await fetch(`${base}/readyz`);
    assert.equal(during.status, 503);
    assert.equal(((await during.json()) as { state: string }).state, 'draining');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    held.cancel();
    await held.settled;
    w.close();
    assert.equal(await n.proc.exited, 0);
  });
});
