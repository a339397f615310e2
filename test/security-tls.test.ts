/**
 * TLS between nodes and for clients, over real node processes and certificates made with openssl:
 * a mutual-TLS cluster that forms, replicates and answers through a node without a copy; public
 * clients (EngramClient, CLI) with the CA alone; a node whose certificate comes from another CA
 * gets nothing from the cluster; the start-up checks of the TLS flags and of plaintext off loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { startNodeProcess, type NodeProcess } from '../src/cluster/node-process.js';
import { EngramClient, type NodeStatus } from '../src/client/engram-client.js';
import { NodeUnavailableError } from '../src/errors.js';
import { ConfigError } from '../src/errors.js';
import { internalCallMetadata } from '../src/security/internal-auth.js';
import { loadTlsConfig, type TlsConfig } from '../src/security/tls-config.js';
import { checkTransportPolicy, isLoopbackHost } from '../src/security/transport-policy.js';
import { channelCredentials } from '../src/security/credentials.js';
import { encodeInternalRequest, protos } from '../src/wire/proto.js';
import { TestPki, type CertFiles } from './helpers/security-certs.js';
import { hasTool, needTool } from './helpers/system-tools.js';
import { vec } from './helpers/node.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const KEY = 'tls-cluster-key';
const DIM = 8;

type Log = Record<string, unknown> | string;

interface RunningNode {
  id: string;
  proc: NodeProcess;
  client: EngramClient;
  logs: Log[];
}

function engram(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value or `deadlineMs` passes. */
async function until<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Calls EngramInternal.<method> on `address` with the given credentials and metadata; resolves with the error (or null). */
function internalCall(address: string, credentials: grpc.ChannelCredentials, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<grpc.ServiceError | null> {
  const client = new (protos().InternalClient)(address, credentials) as grpc.Client & Record<string, Function>;
  return new Promise<grpc.ServiceError | null>((resolve) =>
    client[method]!(request, metadata, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null) => resolve(err)),
  ).finally(() => client.close());
}

function tls(files: CertFiles): TlsConfig {
  return loadTlsConfig(files, true)!;
}

describe('TLS', () => {
  let pki: TestPki | undefined;
  let root: string;
  let caFile: string;
  const certs = new Map<string, CertFiles>();
  let foreign: CertFiles;
  const nodes = new Map<string, RunningNode>();

  async function start(id: string, files: CertFiles, seeds: string[], extra: string[] = [], logs: Log[] = []): Promise<RunningNode> {
    const proc = await startNodeProcess({
      id,
      dataDir: join(root, id),
      onLog: (line) => logs.push(line),
      extraArgs: [
        '--gossip', '127.0.0.1:0', '--cluster-key', KEY,
        '--probe-period-ms', '200', '--probe-timeout-ms', '80', '--suspect-timeout-ms', '600',
        ...TestPki.flags(files),
        ...(seeds.length ? ['--seeds', seeds.join(',')] : []),
        ...extra,
      ],
    });
    // A public client needs only the CA that signed the node's certificate.
    const node = { id, proc, client: new EngramClient({ nodes: [proc.grpcAddress], deadlineMs: 10_000, tls: { ca: tls(files).ca }, routing: 'any' }), logs };
    nodes.set(id, node);
    return node;
  }

  function node(id: string): RunningNode {
    return nodes.get(id)!;
  }

  before(async () => {
    root = await mkdtemp(join(os.tmpdir(), 'engram-tls-'));
    // Certificates come from the openssl command; without it each test below reports the skip.
    if (!hasTool('openssl')) return;
    pki = await TestPki.create();
    caFile = await pki.ca('cluster-ca');
    for (const id of ['n1', 'n2', 'n3', 'client']) certs.set(id, await pki.leaf(caFile, id));
    foreign = await pki.leaf(await pki.ca('other-ca'), 'intruder');
  });

  after(async () => {
    for (const n of nodes.values()) n.client.close();
    await Promise.all([...nodes.values()].map((n) => n.proc.stop()));
    await rm(root, { recursive: true, force: true });
    await pki?.cleanup();
  });

  it('a three-node cluster forms over mutual TLS, replicates with ack all and answers through a node without a copy', async (t) => {
    if (!needTool(t, 'openssl')) return;
    const n1 = await start('n1', certs.get('n1')!, []);
    await Promise.all(['n2', 'n3'].map((id) => start(id, certs.get(id)!, [n1.proc.gossipAddress])));
    const ids = ['n1', 'n2', 'n3'];
    await until('the TLS cluster to converge', 15_000, async () => {
      const all = await Promise.all(ids.map((id) => node(id).client.status()));
      const ok = all.every((s) => s.members.filter((m) => m.state === 'alive').length === 3 && s.meta?.digest === all[0]!.meta?.digest && s.meta?.voters.length === 3);
      return ok ? true : undefined;
    });

    const created = await n1.client.createSpace('tls_space', { dimension: DIM, primary: 'n1', replicas: ['n2'] });
    assert.deepEqual([created.primary, created.replicas], ['n1', ['n2']]);
    // Every node applies the table from the metadata log, carried over TLS (the Raft stream).
    await until('the table on every node', 10_000, async () => {
      const all = await Promise.all(ids.map((id) => node(id).client.status()));
      return all.every((s) => s.assignments.some((a) => a.space === 'tls_space')) ? true : undefined;
    });

    // n3 holds no copy: it forwards the write to the primary, which replicates to n2 before acking.
    const memories = Array.from({ length: 20 }, (_, i) => ({ id: `m${i}`, embedding: vec(DIM, i + 1), content: `memory ${i}` }));
    const stored = await node('n3').client.store('tls_space', { memories, ack: 'all' });
    assert.equal(stored.memories, 20);
    assert.equal(stored.copies, 2);
    const n2Space = (await node('n2').client.status()).spaces.find((s) => s.id === 'tls_space');
    assert.equal(n2Space?.memories, 20);

    // A query through n3 scatters to the owners over the pooled TLS channels.
    const r = await node('n3').client.query({ kind: 'recall', space: 'tls_space', cue: { embedding: Float32Array.from(vec(DIM, 4)) }, limit: 3 });
    assert.equal(r.coverage.full, true);
    assert.equal(r.coverage.penalty, 0);
    assert.ok(r.kind === 'recall');
    assert.equal(r.memories[0]?.id, 'm3');
  });

  it('public clients connect with the CA alone; plaintext to a TLS node fails', async (t) => {
    if (!needTool(t, 'openssl')) return;
    const address = node('n1').proc.grpcAddress;
    const ok = await engram(['--node', address, '--tls-ca', caFile, '--json', 'status']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as NodeStatus).nodeId, 'n1');
    // A client certificate is accepted too (and does not open the internal service by itself).
    const withCert = await engram(['--node', address, ...['--tls-ca', caFile, '--tls-cert', certs.get('client')!.cert, '--tls-key', certs.get('client')!.key], 'status']);
    assert.equal(withCert.code, 0, withCert.stderr);

    const plain = new EngramClient({ nodes: [address], deadlineMs: 3_000 });
    const err = await plain.status().then(() => assert.fail('plaintext reached a TLS node'), (e: unknown) => e);
    plain.close();
    // A plaintext client cannot even connect: the node is unreachable to it.
    assert.ok(err instanceof NodeUnavailableError, String(err));
    assert.equal(err.grpcStatus, grpc.status.UNAVAILABLE);

    const badFlag = await engram(['--node', address, '--tls-ca', join(root, 'missing.pem'), 'status']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--tls-ca: cannot read .*missing\.pem \(ENOENT\)/);
  });

  it('the internal service refuses connections without a certificate of the cluster CA, even with the cluster key', async (t) => {
    if (!needTool(t, 'openssl')) return;
    const address = node('n1').proc.grpcAddress;
    const tag = internalCallMetadata(KEY, 'n2', (await node('n1').client.status()).meta!.clusterId);
    const caOnly = channelCredentials({ ca: tls(certs.get('n1')!).ca });
    // The intruder trusts our CA (so its handshake to us succeeds) but presents its own CA's certificate.
    const intruder = grpc.credentials.createSsl(tls(certs.get('n1')!).ca, tls(foreign).key!, tls(foreign).cert!);
    const member = channelCredentials(tls(certs.get('n2')!));
    for (const [who, creds] of [['no certificate', caOnly], ['a foreign certificate', intruder]] as const) {
      for (const method of ['ExecuteLocal', 'JoinCluster', 'AwaitApplied', 'ForwardStore', 'ReadSpaceLog']) {
        const err = await internalCall(address, creds, method, {}, tag(method));
        assert.equal(err?.code, grpc.status.UNAUTHENTICATED, `${method} with ${who}`);
        assert.match(err!.details, /client certificate signed by the cluster CA/);
      }
    }
    // The control: a member certificate with the key is answered.
    assert.equal(await internalCall(address, member, 'AwaitApplied', { index: 0 }, tag('AwaitApplied', encodeInternalRequest('AwaitApplied', { index: 0 }))), null);
    // Each refusal was logged with its reason.
    const refused = node('n1').logs.filter((l) => typeof l === 'object' && l.msg === 'internal call refused' && l.reason === 'no_client_certificate');
    assert.equal(refused.length, 10, 'two callers × five methods');
  });

  it('a node whose certificate comes from another CA cannot join: it never becomes a member and nothing is placed on it', async (t) => {
    if (!needTool(t, 'openssl')) return;
    // Same cluster key, so gossip lets it in; its JoinCluster call then fails the certificate check.
    const logs: Log[] = [];
    const refused = await start('intruder', foreign, [node('n1').proc.gossipAddress], ['--join-timeout-ms', '3000'], logs).then(
      () => assert.fail('a node with a foreign certificate started'),
      (e: unknown) => e as Error,
    );
    assert.match(refused.message, /exited \(1\) before starting/);
    const failed = logs.find((l) => typeof l === 'object' && l.msg === 'start failed') as Record<string, unknown> | undefined;
    assert.match(String(failed?.error), /no member answered within 3000 ms/);
    // The members never counted it, so nothing is placed on it, even when a space asks for more
    // copies than there are nodes.
    assert.equal((await node('n1').client.status()).members.some((m) => m.id === 'intruder'), false);
    const placed = await node('n2').client.createSpace('no-intruder', { dimension: 4, copies: 4 });
    assert.deepEqual([placed.primary, ...placed.replicas].sort(), ['n1', 'n2', 'n3']);
  });

  it('refuses mismatched or unreadable TLS files, naming the flag', async (t) => {
    if (!needTool(t, 'openssl')) return;
    const n1 = certs.get('n1')!;
    const n2 = certs.get('n2')!;
    const bad = join(root, 'not-pem.pem');
    await writeFile(bad, 'hello');
    const cases: [Parameters<typeof loadTlsConfig>[0], string, RegExp][] = [
      [{ cert: n1.cert, key: n1.key }, '--tls-ca', /is required/],
      [{ ca: n1.ca }, '--tls-cert', /is required/],
      [{ ca: n1.ca, cert: n1.cert }, '--tls-key', /is required/],
      [{ ca: join(root, 'nope.pem'), cert: n1.cert, key: n1.key }, '--tls-ca', /ENOENT/],
      [{ ca: bad, cert: n1.cert, key: n1.key }, '--tls-ca', /no PEM certificate/],
      [{ ca: n1.ca, cert: n1.cert, key: bad }, '--tls-key', /not a PEM private key/],
      [{ ca: n1.ca, cert: n1.cert, key: n2.key }, '--tls-key', /not the key of the certificate/],
      [{ ca: n1.ca, cert: foreign.cert, key: foreign.key }, '--tls-cert', /not signed by the CA/],
    ];
    for (const [files, flag, message] of cases) {
      assert.throws(() => loadTlsConfig(files, true), (err: unknown) => err instanceof ConfigError && err.setting === flag && message.test(err.message), JSON.stringify(files));
    }
    assert.equal(loadTlsConfig({}, true), undefined);
    assert.deepEqual(Object.keys(loadTlsConfig({ ca: n1.ca }, false)!), ['ca']);
  });

  it('plaintext only on loopback: a non-loopback listen needs TLS or --insecure', async () => {
    for (const h of ['127.0.0.1', '127.3.2.1', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::2', '::ffff:10.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
    assert.throws(() => checkTransportPolicy('127.0.0.1', true, true), (e: unknown) => e instanceof ConfigError && e.setting === '--insecure');

    const refused = await startNodeProcess({ id: 'open', dataDir: join(root, 'open'), listen: '0.0.0.0:0' }).then(
      () => assert.fail('a plaintext node started on 0.0.0.0'),
      (e: unknown) => e as Error,
    );
    assert.match(refused.message, /--listen: 0\.0\.0\.0 is not a loopback address: give --tls-cert, --tls-key and --tls-ca, or --insecure/);

    const insecure = await startNodeProcess({ id: 'open', dataDir: join(root, 'open'), listen: '0.0.0.0:0', extraArgs: ['--insecure'] });
    try {
      const client = new EngramClient({ nodes: [`127.0.0.1:${insecure.grpcAddress.split(':').pop()}`], deadlineMs: 5_000 });
      assert.equal((await client.status()).nodeId, 'open');
      client.close();
    } finally {
      await insecure.stop();
    }
  });

  it('a node with TLS may listen off loopback', async (t) => {
    if (!needTool(t, 'openssl')) return;
    const withTls = await startNodeProcess({ id: 'open-tls', dataDir: join(root, 'open-tls'), listen: '0.0.0.0:0', extraArgs: TestPki.flags(certs.get('n1')!) });
    await withTls.stop();
  });
});
