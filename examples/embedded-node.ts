/**
 * An Engram node that embeds engram-query. It brings its own engine, its own membership (here a
 * static list from the environment) and one memory space of its own; the cluster's other spaces
 * live on reference nodes (`engram-node`). It serves its partitions to the other nodes, asks
 * theirs over authenticated gRPC, and answers queries that span both with one coverage block.
 *
 *   ENGRAM_CLUSTER_KEY=…                          the cluster's shared key (required)
 *   ENGRAM_CLUSTER_ID=…                           the cluster's id, as `engram status` shows it (default empty)
 *   ENGRAM_MEMBERS=n1=127.0.0.1:7001,n2=…         the other nodes, id=gRPC address (required)
 *   ENGRAM_SPACES=notes=n1+n2,dreams=n2           spaces on them: primary first, then replicas (required)
 *   ENGRAM_NODE_ID=embedded                       this node's id (default "embedded")
 *   ENGRAM_LISTEN=127.0.0.1:0                     where it serves its partitions (default 127.0.0.1:0)
 *
 * It prints one JSON line per event, then serves until SIGTERM or SIGINT.
 * Build and run: npm run build:ts && node dist/examples/embedded-node.js
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  Engine, DistributedExecutor, StaticClusterView, answerFromEngine, embedText,
  addPartitionService, internalPool, poolTransport, serverCredentials,
  type Member, type SpaceAssignment,
} from 'engram-query';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is required (see the top of examples/embedded-node.ts)`);
  return value;
};
const print = (event: string, fields: object) => console.log(JSON.stringify({ event, ...fields }));

const nodeId = env('ENGRAM_NODE_ID', 'embedded');
const clusterKey = env('ENGRAM_CLUSTER_KEY');
// The cluster id every tag names (a reference node's `engram status` shows it); empty outside one.
const clusterId = process.env.ENGRAM_CLUSTER_ID ?? '';
const others: Member[] = env('ENGRAM_MEMBERS').split(',').map((entry) => {
  const [id, grpcAddress] = entry.split('=');
  return { id: id!, grpcAddress: grpcAddress!, gossipAddress: '', state: 'alive', incarnation: 1 };
});
const remoteSpaces: SpaceAssignment[] = env('ENGRAM_SPACES').split(',').map((entry) => {
  const [space, copies] = entry.split('=');
  const [primary, ...replicas] = copies!.split('+');
  return { space: space!, primary: primary!, replicas, dimension: 0, version: 1 };
});

// 1. This node's own engine and space (any engine works: the library needs only a LocalRunner).
const dataDir = await mkdtemp(join(os.tmpdir(), 'engram-embedded-'));
const engine = await Engine.open(dataDir);
await engine.createSpace('embedded', 64);
await engine.store('embedded', {
  memories: ['a lighthouse at dawn', 'salt on the wind', 'a ship far out'].map((text, i) => ({
    id: `e${i}`, embedding: embedText(text, 64), content: text,
  })),
});
const local = (query: Parameters<typeof answerFromEngine>[1], space: string) => answerFromEngine(engine, query, space);

// 2. Serve this node's partitions to the others, refusing calls without the cluster key.
const server = new grpc.Server();
addPartitionService(server, { local, clusterKey, clusterId, onRefused: (method, err) => print('refused', { method, reason: err.reason }) });
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(env('ENGRAM_LISTEN', '127.0.0.1:0'), serverCredentials(undefined), (err, p) => (err ? reject(err) : resolve(p))),
);
const self: Member = { id: nodeId, grpcAddress: `127.0.0.1:${port}`, gossipAddress: '', state: 'alive', incarnation: 1 };

// 3. Ask the others for theirs: pooled channels whose every call carries the cluster-key tag.
const pool = internalPool({ nodeId, clusterKey, clusterId });
const executor = new DistributedExecutor({
  view: new StaticClusterView({
    self: nodeId,
    members: [self, ...others],
    assignments: [{ space: 'embedded', primary: nodeId, replicas: [], dimension: 64, version: 1 }, ...remoteSpaces],
  }),
  transport: poolTransport(pool),
  local,
});
print('serving', { node: nodeId, address: self.grpcAddress });

// 4. A query over a remote space, and one that spans this node's space and a remote one.
const first = remoteSpaces[0]!.space;
const recall = await executor.execute({ kind: 'recall', space: first, cue: { text: 'sea' }, limit: 3 }, { timeoutMs: 2_000 });
if (recall.kind === 'recall') print('recall', { ids: recall.memories.map((m) => m.id), coverage: recall.coverage });
const imagine = await executor.execute({ kind: 'imagine', spaces: ['embedded', first], cue: { text: 'the sea at dawn' }, limit: 2 }, { timeoutMs: 2_000 });
if (imagine.kind === 'imagine') print('imagine', { items: imagine.items.map((i) => ({ space: i.space, confidence: i.confidence })), coverage: imagine.coverage });

// 5. Serve until told to stop; then close everything this node opened.
const stop = async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  pool.close();
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
  print('stopped', { node: nodeId });
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
