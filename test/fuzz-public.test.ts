/**
 * Fuzzing the public gRPC service of a real node process (a cluster of one, so queries take the
 * distributed path): (a) random, truncated and bit-flipped protobuf bytes on every method, and
 * (b) well-formed but hostile requests. Every call must end with a clear status before its
 * deadline, the node must stay up, and the data stored before must be unchanged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { protos } from '../src/wire/proto.js';
import { prng } from '../src/util/prng.js';
import { NodeFixture, vec, type TestNode } from './helpers/node.js';

const DIM = 8;
const SPACE = 'space-a';
/** Every call must settle well within this (a hang shows up as DEADLINE_EXCEEDED). */
const CALL_DEADLINE_MS = 10_000;
const METHODS = ['CreateSpace', 'Store', 'ExecuteQuery', 'Status'] as const;
type Method = (typeof METHODS)[number];

interface Outcome { code: grpc.status; details: string; response: unknown }

describe('fuzzing the public service', () => {
  const fx = new NodeFixture();
  let n: TestNode;
  let raw: grpc.Client;
  const service = () => protos().publicService;

  /** Sends `bytes` as they are (no serializer of ours), decodes the answer with the real one. */
  function callBytes(method: Method, bytes: Buffer, deadlineMs = CALL_DEADLINE_MS): Promise<Outcome> {
    const def = service()[method]!;
    return new Promise((resolve) => {
      raw.makeUnaryRequest(
        def.path,
        (b: Buffer) => b,
        def.responseDeserialize,
        bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, response) => resolve(err ? { code: err.code, details: err.details, response: undefined } : { code: grpc.status.OK, details: '', response }),
      );
    });
  }

  /** Sends a message object through the real serializer (proto3 rules: what any client could send). */
  const call = (method: Method, msg: unknown, deadlineMs?: number) => callBytes(method, service()[method]!.requestSerialize(msg), deadlineMs);

  const good = (id: string, seed: number) => ({ id, embedding: vec(DIM, seed), content: `memory ${id}`, confidence: { lower: 0.6, upper: 0.8 } });
  const recallMsg = (extra: Record<string, unknown> = {}) => ({ query: { recall: { space: SPACE, cue: { embedding: { values: vec(DIM, 1) } }, limit: 10, ...extra } } });

  let baseline: { memories: number; associations: number; recall: string };

  async function snapshot() {
    const status = await call('Status', {});
    assert.equal(status.code, grpc.status.OK, status.details);
    const space = (status.response as { spaces: { id: string; memories: number; associations: number }[] }).spaces.find((s) => s.id === SPACE);
    const recall = await call('ExecuteQuery', recallMsg());
    assert.equal(recall.code, grpc.status.OK, recall.details);
    return { memories: space?.memories ?? -1, associations: space?.associations ?? -1, recall: JSON.stringify((recall.response as { recall: unknown }).recall) };
  }

  async function assertAliveAndUnchanged() {
    assert.equal(n.proc.child.exitCode, null, 'the node process exited');
    assert.equal(n.proc.child.signalCode, null, 'the node process was killed');
    assert.deepEqual(await snapshot(), baseline);
  }

  /** A clear status: one a client can act on, with a message; INTERNAL only for undecodable bytes. */
  function assertClear(o: Outcome, what: string) {
    const allowed = [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.ALREADY_EXISTS, grpc.status.RESOURCE_EXHAUSTED, grpc.status.INTERNAL];
    assert.ok(allowed.includes(o.code), `${what}: status ${grpc.status[o.code]} (${o.details})`);
    if (o.code !== grpc.status.OK) assert.ok(o.details.length > 0 && o.details.length < 4096, `${what}: ${grpc.status[o.code]} needs a short message, got ${o.details.length} chars`);
    if (o.code === grpc.status.INTERNAL) assert.match(o.details, /deserializ|parse|decode/i, `${what}: a handler failed: ${o.details}`);
  }

  async function rejectsWith(method: Method, msg: unknown, field: RegExp, code = grpc.status.INVALID_ARGUMENT) {
    const started = Date.now();
    const o = await call(method, msg);
    assert.equal(grpc.status[o.code], grpc.status[code], `${field}: ${o.details}`);
    assert.match(o.details, field);
    assert.ok(o.details.length < 4096, `message of ${o.details.length} chars`);
    assert.ok(Date.now() - started < CALL_DEADLINE_MS, 'took too long');
  }

  before(async () => {
    n = await fx.start('fuzz', undefined, { extraArgs: ['--gossip', '127.0.0.1:0', '--cluster-key', 'fuzz-key', '--replication-factor', '1'] });
    raw = new grpc.Client(n.proc.grpcAddress, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    assert.equal((await call('CreateSpace', { space: SPACE, dimension: DIM })).code, grpc.status.OK);
    const stored = await call('Store', { space: SPACE, memories: [good('m1', 1), good('m2', 2), good('m3', 3)], associations: [{ from: 'm1', to: 'm2', weight: 0.5 }] });
    assert.equal(stored.code, grpc.status.OK, stored.details);
    baseline = await snapshot();
    assert.equal(baseline.memories, 3);
  });
  after(async () => {
    raw?.close();
    await fx.cleanup();
  });

  it('gives every malformed, truncated or bit-flipped message a clear status and stays up', async () => {
    const rand = prng(0x5eed);
    const int = (k: number) => Math.floor(rand() * k);
    // Seeds of the mutations; none of them can write to SPACE (Store names another space,
    // CreateSpace restates SPACE's own dimension), so any that decode must leave SPACE as it was.
    const seeds: Record<Method, Buffer> = {
      CreateSpace: service().CreateSpace!.requestSerialize({ space: SPACE, dimension: DIM, replicas: ['a', 'b'] }),
      Store: service().Store!.requestSerialize({ space: 'fuzz-target', memories: [good('f1', 9), good('f2', 10)], associations: [{ from: 'f1', to: 'f2', weight: 0.3 }], ack: 'ACK_LEVEL_ALL' }),
      ExecuteQuery: service().ExecuteQuery!.requestSerialize({ query: { spread: { space: SPACE, seeds: ['m1', 'm2'], hops: 3, decay: 0.2 } }, options: { timeoutMs: 2000, minCoverage: 0.5 } }),
      Status: Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]),
    };
    const mutate = (seed: Buffer): Buffer => {
      switch (int(5)) {
        case 0: // random bytes
          return Buffer.from(Array.from({ length: int(200) }, () => int(256)));
        case 1: // truncated
          return seed.subarray(0, int(seed.length));
        case 2: { // bit flips
          const b = Buffer.from(seed);
          for (let k = 1 + int(4); k > 0; k--) b[int(b.length)]! ^= 1 << int(8);
          return b;
        }
        case 3: { // a length prefix or varint turned huge / overlong
          const b = Buffer.from(seed);
          b[int(b.length)] = 0xff;
          return Buffer.concat([b, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]);
        }
        default: { // spliced garbage
          const at = int(seed.length);
          return Buffer.concat([seed.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256))), seed.subarray(at)]);
        }
      }
    };
    const counts: Record<string, number> = {};
    const CASES = 300;
    const started = Date.now();
    for (let i = 0; i < CASES; i++) {
      const method = METHODS[i % METHODS.length]!;
      const bytes = mutate(seeds[method]);
      const o = await callBytes(method, bytes);
      assertClear(o, `case ${i} ${method} ${bytes.toString('hex').slice(0, 120)}`);
      counts[grpc.status[o.code]!] = (counts[grpc.status[o.code]!] ?? 0) + 1;
    }
    assert.ok(Date.now() - started < 60_000, 'the fuzz run took too long');
    // The mix proves the mutations reached both the decoder and the handlers.
    assert.ok((counts.OK ?? 0) > 0 && (counts.INTERNAL ?? 0) + (counts.INVALID_ARGUMENT ?? 0) > 0, JSON.stringify(counts));
    await assertAliveAndUnchanged();
  });

  it('rejects huge limits, hops and negative-looking uint32s, naming the field', async () => {
    await rejectsWith('ExecuteQuery', recallMsg({ limit: 2 ** 32 - 1 }), /limit/);
    await rejectsWith('ExecuteQuery', recallMsg({ limit: -1 }), /limit.*4294967295/);
    await rejectsWith('ExecuteQuery', { query: { imagine: { spaces: [SPACE], cue: { text: 'x' }, limit: 2 ** 32 - 1 } } }, /limit/);
    await rejectsWith('ExecuteQuery', { query: { spread: { space: SPACE, seeds: ['m1'], hops: 2 ** 32 - 1 } } }, /hops/);
    await rejectsWith('ExecuteQuery', { query: { complete: { space: SPACE, values: vec(DIM, 1), known: Array(DIM).fill(true), neighbours: 2 ** 32 - 1 } } }, /neighbours/);
    await rejectsWith('ExecuteQuery', { ...recallMsg(), options: { timeoutMs: 2 ** 32 - 1 } }, /timeoutMs/);
    await rejectsWith('CreateSpace', { space: 'huge-dim', dimension: 2 ** 32 - 1 }, /dimension/);
    // More copies than members gives fewer copies, by design (rendezvous.ts), never an error.
    const copies = await call('CreateSpace', { space: 'huge-copies', dimension: DIM, copies: 2 ** 32 - 1 });
    assert.equal(copies.code, grpc.status.OK, copies.details);
    assert.deepEqual((copies.response as { replicas: string[] }).replicas, []);
    await assertAliveAndUnchanged();
  });

  it('rejects batches over the caps and stores none of them', async () => {
    const memories = Array.from({ length: 10_001 }, (_, i) => good(`big${i}`, i));
    await rejectsWith('Store', { space: SPACE, memories }, /memories/);
    const associations = Array.from({ length: 100_001 }, () => ({ from: 'm1', to: 'm2', weight: 0.5 }));
    await rejectsWith('Store', { space: SPACE, associations }, /associations/);
    await rejectsWith('ExecuteQuery', { query: { spread: { space: SPACE, seeds: Array.from({ length: 10_001 }, (_, i) => `s${i}`) } } }, /seeds/);
    await assertAliveAndUnchanged();
  });

  it('spreads over a 10,000-edge cycle and a dense graph with the most hops, fast and bounded', async () => {
    const N = 10_000;
    assert.equal((await call('CreateSpace', { space: 'cycle', dimension: 2 })).code, grpc.status.OK);
    const memories = Array.from({ length: N }, (_, i) => ({ id: `c${i}`, embedding: [1, i / N] }));
    const associations = Array.from({ length: N }, (_, i) => ({ from: `c${i}`, to: `c${(i + 1) % N}`, weight: 1 }));
    // Plus a dense knot: every one of the first 300 points at every other (89,700 edges).
    const K = 300;
    for (let i = 0; i < K && associations.length < 100_000; i++) for (let j = 0; j < K; j++) if (i !== j) associations.push({ from: `c${i}`, to: `c${j}`, weight: 1 });
    const stored = await call('Store', { space: 'cycle', memories, associations: associations.slice(0, 100_000) });
    assert.equal(stored.code, grpc.status.OK, stored.details);
    const started = Date.now();
    const o = await call('ExecuteQuery', { query: { spread: { space: 'cycle', seeds: ['c0', `c${N - 1}`], hops: 10, decay: 0, threshold: 0 } } });
    assert.equal(o.code, grpc.status.OK, o.details);
    const activations = (o.response as { spread: { activations: { activation: number }[] } }).spread.activations;
    assert.ok(activations.length > 0 && activations.length <= N);
    assert.ok(activations.every((a) => a.activation > 0 && a.activation <= 1));
    assert.ok(Date.now() - started < 5_000, `spread took ${Date.now() - started} ms`);
    await assertAliveAndUnchanged();
  });

  it('rejects 10 MB strings in every string field with a short message', async () => {
    const big = 'x'.repeat(10 * 1024 * 1024);
    await rejectsWith('Store', { space: SPACE, memories: [{ ...good('m9', 9), content: big }] }, /memories\[0\]\.content/);
    await rejectsWith('Store', { space: SPACE, memories: [{ ...good('m9', 9), id: big }] }, /memories\[0\]\.id/);
    await rejectsWith('Store', { space: SPACE, associations: [{ from: big, to: 'm2', weight: 0.5 }] }, /associations\[0\]\.from/);
    await rejectsWith('Store', { space: SPACE, associations: [{ from: 'm1', to: big, weight: 0.5 }] }, /associations\[0\]\.to/);
    await rejectsWith('Store', { space: SPACE, associations: [{ from: 'm1', to: 'm2', weight: 0.5, toSpace: big }] }, /associations\[0\]\.toSpace/);
    await rejectsWith('Store', { space: big, memories: [good('m9', 9)] }, /space/);
    await rejectsWith('CreateSpace', { space: big, dimension: DIM }, /space/);
    await rejectsWith('CreateSpace', { space: 'big-primary', dimension: DIM, primary: big }, /primary/);
    await rejectsWith('ExecuteQuery', { query: { recall: { space: SPACE, cue: { text: big } } } }, /cue/);
    await rejectsWith('ExecuteQuery', { query: { recall: { space: big, cue: { text: 'x' } } } }, /space/);
    await rejectsWith('ExecuteQuery', { query: { imagine: { spaces: [big], cue: { text: 'x' } } } }, /space/);
    await rejectsWith('ExecuteQuery', { query: { spread: { space: big, seeds: ['m1'] } } }, /space/);
    // An unknown seed is ignored, whatever its size: an answer, not an error.
    const o = await call('ExecuteQuery', { query: { spread: { space: SPACE, seeds: [big, 'm1'] } } });
    assert.equal(o.code, grpc.status.OK, o.details);
    await assertAliveAndUnchanged();
  });

  it('rejects unknown enum values and a query with no known kind', async () => {
    // ack = 99: field 4, varint 99, appended to a valid (otherwise empty-batch) Store.
    const store = Buffer.concat([service().Store!.requestSerialize({ space: SPACE, memories: [good('m9', 9)] }), Buffer.from([0x20, 99])]);
    const o = await callBytes('Store', store);
    assert.equal(grpc.status[o.code], 'INVALID_ARGUMENT', o.details);
    assert.match(o.details, /ack/);
    await rejectsWith('ExecuteQuery', {}, /query/);
    await rejectsWith('ExecuteQuery', { query: {} }, /query/);
    // Query field 9 (no such kind): decoded as an unknown field, so no kind is set.
    const unknownKind = Buffer.from([0x0a, 0x02, 0x4a, 0x00]);
    const u = await callBytes('ExecuteQuery', unknownKind);
    assert.equal(grpc.status[u.code], 'INVALID_ARGUMENT', u.details);
    assert.match(u.details, /query/);
    await rejectsWith('ExecuteQuery', { query: { recall: { space: SPACE } } }, /cue/);
    await assertAliveAndUnchanged();
  });

  it('rejects NaN and ±Inf in every float field, naming it', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const withBad = (i: number) => vec(DIM, 1).map((x, j) => (j === i ? bad : x));
      await rejectsWith('Store', { space: SPACE, memories: [{ ...good('m9', 9), embedding: withBad(2) }] }, /memories\[0\]\.embedding/);
      await rejectsWith('Store', { space: SPACE, memories: [{ ...good('m9', 9), confidence: { lower: bad, upper: 0.9 } }] }, /memories\[0\]\.confidence/);
      await rejectsWith('Store', { space: SPACE, memories: [{ ...good('m9', 9), confidence: { lower: 0.1, upper: bad } }] }, /memories\[0\]\.confidence/);
      await rejectsWith('Store', { space: SPACE, memories: [{ ...good('m9', 9), createdAt: bad }] }, /memories\[0\]\.createdAt/);
      await rejectsWith('Store', { space: SPACE, associations: [{ from: 'm1', to: 'm3', weight: bad }] }, /associations\[0\]\.weight/);
      await rejectsWith('ExecuteQuery', { query: { recall: { space: SPACE, cue: { embedding: { values: withBad(0) } } } } }, /cue/);
      await rejectsWith('ExecuteQuery', recallMsg({ threshold: bad }), /threshold/);
      await rejectsWith('ExecuteQuery', { query: { spread: { space: SPACE, seeds: ['m1'], decay: bad } } }, /decay/);
      await rejectsWith('ExecuteQuery', { query: { spread: { space: SPACE, seeds: ['m1'], threshold: bad } } }, /threshold/);
      await rejectsWith('ExecuteQuery', { query: { complete: { space: SPACE, values: withBad(1), known: Array(DIM).fill(true) } } }, /values/);
      await rejectsWith('ExecuteQuery', { query: { consolidate: { space: SPACE, threshold: bad } } }, /threshold/);
      await rejectsWith('ExecuteQuery', { query: { imagine: { spaces: [SPACE], cue: { embedding: { values: withBad(3) } } } } }, /cue/);
      await rejectsWith('ExecuteQuery', { query: { imagine: { spaces: [SPACE], cue: { text: 'x' }, novelty: bad } } }, /novelty/);
      await rejectsWith('ExecuteQuery', { ...recallMsg(), options: { minCoverage: bad } }, /minCoverage/);
    }
    await assertAliveAndUnchanged();
  });

  it('answers empty seeds and an empty imagine list clearly', async () => {
    const o = await call('ExecuteQuery', { query: { spread: { space: SPACE, seeds: [] } } });
    assert.equal(o.code, grpc.status.OK, o.details);
    assert.deepEqual((o.response as { spread: { activations: unknown[] } }).spread.activations, []);
    await rejectsWith('ExecuteQuery', { query: { imagine: { spaces: [], cue: { text: 'x' } } } }, /spaces/);
    await assertAliveAndUnchanged();
  });
});
