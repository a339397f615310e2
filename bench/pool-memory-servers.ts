/**
 * Child process of the P8 benchmark: N tiny grpc-js servers on 127.0.0.1:0, each implementing
 * EngramInternal.ExecuteLocal with a tiny valid PartitionResult (an empty Recall). Prints
 * `{"addresses":[…]}` on stdout once all are bound, and exits when stdin closes (the parent
 * ends), so no server outlives the benchmark.
 *
 *   node dist/bench/pool-memory-servers.js <count>
 */
import * as grpc from '@grpc/grpc-js';
import { protos } from '../src/wire/proto.js';
import { bytesOf, encodeStrings } from '../src/wire/columns.js';
import { partitionToWire } from '../src/wire/partition-codec.js';

const count = Number(process.argv[2] ?? 100);
const none = encodeStrings([]);
const empty = new Uint8Array(0);
const answer = (partition: string) => partitionToWire(partition, {
  kind: 'recall',
  columns: {
    ids: none.blob, idOffsets: none.offsets, lower: empty, upper: empty, similarity: empty,
    content: none.blob, contentOffsets: none.offsets, createdAt: bytesOf(new Float64Array(0)),
  },
});

const servers: grpc.Server[] = [];
const addresses: string[] = [];
for (let i = 0; i < count; i++) {
  const server = new grpc.Server();
  server.addService(protos().internalService, {
    ExecuteLocal: (call: grpc.ServerUnaryCall<{ partition: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, answer(call.request.partition)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  servers.push(server);
  addresses.push(`127.0.0.1:${port}`);
}
process.stdout.write(JSON.stringify({ addresses }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => {
  for (const s of servers) s.forceShutdown();
  process.exit(0);
});
