/** The gRPC side of errors: statuses from the classes, small trailers, no transport text passed on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  AllPartitionsFailedError, ConnectionBackoffError, InvalidArgumentError, MalformedPartitionResultError, PoolClosedError, SpaceNotFoundError,
} from '../src/errors.js';
import {
  COVERAGE_METADATA, FIELDS_METADATA, MAX_COVERAGE_METADATA_BYTES, MAX_STATUS_MESSAGE_CHARS, decodeCoverage, isInternal, toGrpcError, typedErrorOf,
} from '../src/wire/grpc-errors.js';
import { buildCoverage, coverageToWire } from '../src/query/coverage.js';

const partitions = (n: number, reason: string) =>
  Array.from({ length: n }, (_, i) => ({ partition: `space-${i}`, node: 'n1', role: 'primary' as const, status: 'unavailable' as const, reason, latencyMs: 1 }));

function coverageBlock(e: grpc.ServiceError): Buffer | undefined {
  return e.metadata.get(COVERAGE_METADATA)[0] as Buffer | undefined;
}

describe('gRPC errors', () => {
  it('clips a message that quotes a huge input', () => {
    const e = toGrpcError(new SpaceNotFoundError('x'.repeat(200_000)));
    assert.ok(e.details.length <= MAX_STATUS_MESSAGE_CHARS);
    assert.match(e.details, /^memory space "xxx/);
    assert.equal(e.metadata.get('engram-code')[0], 'ERR_SPACE_NOT_FOUND');
    assert.equal(toGrpcError(new InvalidArgumentError('limit', 0, 'must be ≥ 1')).details, 'limit: must be ≥ 1 (got 0)');
    // The 200,000-character space id is no typed field worth sending.
    assert.equal(e.metadata.get(FIELDS_METADATA).length, 0);
  });

  it('sends the coverage as an engram.v1.Coverage when it fits, shortens reasons, and omits it rather than overflow', () => {
    const small = toGrpcError(new AllPartitionsFailedError(buildCoverage(partitions(2, 'down'), 0.5, false)));
    assert.deepEqual(decodeCoverage(coverageBlock(small)!), buildCoverage(partitions(2, 'down'), 0.5, false));
    const long = toGrpcError(new AllPartitionsFailedError(buildCoverage(partitions(10, 'r'.repeat(2_000)), 0.5, false)));
    const block = coverageBlock(long)!;
    assert.ok(block.length <= MAX_COVERAGE_METADATA_BYTES);
    assert.equal(decodeCoverage(block)!.partitions[0]!.reason.length, 120);
    const huge = toGrpcError(new AllPartitionsFailedError(buildCoverage(partitions(500, 'down'), 0.5, false)));
    assert.equal(huge.metadata.get(COVERAGE_METADATA).length, 0);
  });

  it('still reads the JSON coverage older nodes sent, and ignores a block that is neither', () => {
    const coverage = buildCoverage(partitions(3, 'down'), 0.25, true);
    assert.deepEqual(decodeCoverage(Buffer.from(JSON.stringify(coverageToWire(coverage)))), coverage);
    assert.equal(decodeCoverage(Buffer.from([0xff, 0xff, 0xff])), undefined);
  });

  it('takes the status each class declares: none of the node-to-node errors falls through to INTERNAL', () => {
    assert.equal(toGrpcError(new PoolClosedError()).code, grpc.status.UNAVAILABLE);
    assert.equal(toGrpcError(new ConnectionBackoffError('10.0.0.7:7001', 250)).code, grpc.status.UNAVAILABLE);
    const malformed = toGrpcError(new MalformedPartitionResultError('no result set'));
    assert.equal(malformed.code, grpc.status.INTERNAL);
    assert.equal(malformed.metadata.get('engram-code')[0], 'ERR_MALFORMED_ANSWER');
    // A malformed answer is the cluster's fault: logged. A closed pool is a stopping node: not.
    assert.equal(isInternal(new MalformedPartitionResultError('x')), true);
    assert.equal(isInternal(new PoolClosedError()), false);
    // The backoff's address is a node's: it does not travel as a field.
    assert.deepEqual(JSON.parse(String(toGrpcError(new ConnectionBackoffError('10.0.0.7:7001', 250)).metadata.get(FIELDS_METADATA)[0])), { retryInMs: 250 });
  });

  it('never passes another node\'s transport failure on, only its typed answer', () => {
    const raw = Object.assign(new Error('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:40123'), {
      code: grpc.status.UNAVAILABLE,
      details: 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:40123',
      metadata: new grpc.Metadata(),
    });
    const out = toGrpcError(raw);
    assert.doesNotMatch(out.details, /ECONNREFUSED|127\.0\.0\.1|\d+\.\d+\.\d+\.\d+:\d+/);
    assert.equal(out.code, grpc.status.INTERNAL);
    // The node logs `message`, which keeps the transport text.
    assert.match(out.message, /ECONNREFUSED 127\.0\.0\.1:40123/);
    assert.equal(isInternal(raw), true);

    const typed = toGrpcError(toGrpcError(new SpaceNotFoundError('gone')));
    assert.equal(typed.code, grpc.status.NOT_FOUND);
    assert.equal(typed.details, 'memory space "gone" does not exist');
    assert.ok(typedErrorOf(typed) instanceof SpaceNotFoundError);
    assert.equal(isInternal(typed), false);
  });
});
