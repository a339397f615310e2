/** Status messages and coverage metadata stay small whatever the error quotes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AllPartitionsFailedError, InvalidArgumentError, SpaceNotFoundError } from '../src/errors.js';
import { MAX_COVERAGE_METADATA_BYTES, MAX_STATUS_MESSAGE_CHARS, toGrpcError } from '../src/node/grpc-errors.js';
import { buildCoverage } from '../src/query/coverage.js';

describe('gRPC errors', () => {
  it('clips a message that quotes a huge input', () => {
    const e = toGrpcError(new SpaceNotFoundError('x'.repeat(200_000)));
    assert.ok(e.details.length <= MAX_STATUS_MESSAGE_CHARS);
    assert.match(e.details, /^memory space "xxx/);
    assert.equal(e.metadata.get('engram-code')[0], 'ERR_SPACE_NOT_FOUND');
    assert.equal(toGrpcError(new InvalidArgumentError('limit', 0, 'must be ≥ 1')).details, 'limit: must be ≥ 1 (got 0)');
  });

  it('sends the coverage when it fits, shortens reasons, and omits it rather than overflow', () => {
    const partitions = (n: number, reason: string) =>
      Array.from({ length: n }, (_, i) => ({ partition: `space-${i}`, node: 'n1', role: 'primary' as const, status: 'unavailable' as const, reason, latencyMs: 1 }));
    const small = toGrpcError(new AllPartitionsFailedError(buildCoverage(partitions(2, 'down'), 0.5, false)));
    assert.equal(JSON.parse(String(small.metadata.get('engram-coverage-bin')[0])).partitions.length, 2);
    const long = toGrpcError(new AllPartitionsFailedError(buildCoverage(partitions(10, 'r'.repeat(2_000)), 0.5, false)));
    const block = long.metadata.get('engram-coverage-bin')[0] as Buffer;
    assert.ok(block.length <= MAX_COVERAGE_METADATA_BYTES);
    assert.equal(JSON.parse(block.toString()).partitions[0].reason.length, 120);
    const huge = toGrpcError(new AllPartitionsFailedError(buildCoverage(partitions(500, 'down'), 0.5, false)));
    assert.equal(huge.metadata.get('engram-coverage-bin').length, 0);
  });
});
