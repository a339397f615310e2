/**
 * examples/embedded-node.ts — the README's "Using the library" — compiled with the rest of the
 * package (tsc includes examples/) and run as its own process against real reference nodes: its
 * queries reach their partitions with the cluster key, and its own partition service answers
 * other nodes' authenticated calls and refuses the rest.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER_KEY, TestCluster } from './helpers/cluster.js';
import { internalPool } from '../src/embedding/internal-transport.js';
import { partitionServiceImplementation } from '../src/embedding/partition-service.js';
import { InvalidArgumentError } from '../src/errors.js';
import { embedText } from '../src/engine/text-embedder.js';
import { queryToWire } from '../src/query/to-wire.js';
import { partitionFromWire } from '../src/wire/partition-codec.js';
import { rowCount, stringAt, u32Column } from '../src/wire/columns.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE = join(DIST, 'examples', 'embedded-node.js');
const REPO = join(DIST, '..');
const DIM = 32;
const NOTES = ['the sea at night', 'waves on the shore', 'a quiet harbour', 'mountain snow'];

type Event = Record<string, unknown> & { event: string };

describe('examples/embedded-node', () => {
  let cluster: TestCluster | undefined;
  let child: ChildProcess | undefined;
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await cluster?.stop();
  });

  it('queries reference nodes and serves its own partition to authenticated callers only', async () => {
    cluster = await new TestCluster(['--replication-factor', '1']).start(2);
    await cluster.waitConverged();
    const placed = await cluster.node('n1').client.createSpace('notes', { dimension: DIM, primary: 'n2' });
    await cluster.node('n1').client.store('notes', {
      memories: NOTES.map((text, i) => ({ id: `n${i}`, embedding: embedText(text, DIM), content: text })),
    });

    const clusterId = (await cluster.node('n1').client.status()).meta!.clusterId;
    child = spawn(process.execPath, [EXAMPLE], {
      env: {
        ...process.env,
        ENGRAM_CLUSTER_KEY: CLUSTER_KEY,
        ENGRAM_CLUSTER_ID: clusterId,
        ENGRAM_MEMBERS: ['n1', 'n2'].map((id) => `${id}=${cluster!.node(id).proc.grpcAddress}`).join(','),
        ENGRAM_SPACES: `notes=${[placed.primary, ...placed.replicas].join('+')}`,
        ENGRAM_NODE_ID: 'embedded',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const events = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<Event> => {
      const line = await Promise.race([
        events.next(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the example printed nothing for 20 s')), 20_000).unref()),
      ]);
      assert.ok(!line.done, 'the example ended early');
      return JSON.parse(line.value) as Event;
    };

    const serving = await next();
    assert.equal(serving.event, 'serving');
    const recall = await next();
    assert.equal(recall.event, 'recall');
    const rc = recall.coverage as { full: boolean; partitions: { node: string; status: string }[] };
    assert.equal(rc.full, true);
    assert.deepEqual([rc.partitions[0]!.node, rc.partitions[0]!.status], ['n2', 'ok']);
    assert.equal((recall.ids as string[]).length, 3);
    assert.ok((recall.ids as string[]).every((id) => /^n\d$/.test(id)));

    const imagine = await next();
    assert.equal(imagine.event, 'imagine');
    const ic = imagine.coverage as { expected: number; responding: number; partitions: { partition: string; node: string; status: string }[] };
    assert.deepEqual([ic.expected, ic.responding], [2, 2]);
    assert.deepEqual(ic.partitions.map((p) => [p.partition, p.node, p.status]), [['embedded', 'embedded', 'ok'], ['notes', 'n2', 'ok']]);
    assert.deepEqual(new Set((imagine.items as { space: string }[]).map((i) => i.space)), new Set(['embedded', 'notes']));

    // Another node of the cluster asks the example for its partition: answered with its memories.
    const address = serving.address as string;
    const request = { query: queryToWire({ kind: 'recall', space: 'embedded', cue: { text: 'lighthouse' }, limit: 5 }), partition: 'embedded' };
    const member = internalPool({ nodeId: 'n1', clusterKey: CLUSTER_KEY, clusterId });
    try {
      const answer = partitionFromWire((await member.unary(address, 'ExecuteLocal', request, { deadline: Date.now() + 5_000 })) as never);
      assert.ok(answer.kind === 'recall');
      const c = answer.columns;
      const ids = Array.from({ length: rowCount(c.idOffsets) }, (_, i) => stringAt(c.ids, u32Column(c.idOffsets), i));
      assert.deepEqual(ids.sort(), ['e0', 'e1', 'e2']);
    } finally {
      member.close();
    }

    // A caller without the key is refused, and the example says so.
    const stranger = internalPool({ nodeId: 'n1', clusterKey: 'not-the-key', clusterId });
    try {
      const err = await stranger.unary(address, 'ExecuteLocal', request, { deadline: Date.now() + 5_000 }).then(() => assert.fail('answered a caller without the key'), (e: unknown) => e as grpc.ServiceError);
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    } finally {
      stranger.close();
    }
    assert.deepEqual(await next(), { event: 'refused', method: 'ExecuteLocal', reason: 'bad_tag' });

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.deepEqual(await next(), { event: 'stopped', node: 'embedded' });
    assert.equal(await exited, 0);
  });

  it('the embedding kit refuses a missing or empty cluster key and a bad node id, typed, before any call', () => {
    const bad: [() => unknown, string][] = [
      [() => internalPool({ nodeId: 'n1', clusterKey: '' }), 'clusterKey'],
      [() => internalPool({ nodeId: 'n1', clusterKey: undefined as unknown as string }), 'clusterKey'],
      [() => internalPool({ nodeId: 'not a node id', clusterKey: 'k' }), 'nodeId'],
      [() => partitionServiceImplementation({ local: async () => assert.fail('called'), clusterKey: '' }), 'clusterKey'],
    ];
    for (const [make, field] of bad) assert.throws(make, (e: unknown) => e instanceof InvalidArgumentError && e.field === field, field);
  });

  it('the README shows the example as it is', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const example = await readFile(join(REPO, 'examples', 'embedded-node.ts'), 'utf8');
    const section = readme.slice(readme.indexOf('## Using the library'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'no ts code block under "## Using the library"');
    // Every line of the README's block stands in the example (the README may leave lines out).
    for (const line of block.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('// …'))) {
      assert.ok(example.includes(line), `README line not in examples/embedded-node.ts: ${line}`);
    }
  });
});
