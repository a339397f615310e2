/**
 * `--max-spaces`: CreateSpace of a new space past the cap is refused with RESOURCE_EXHAUSTED
 * (ERR_TOO_MANY_SPACES naming the cap); the spaces already there keep working and creating one of
 * them again still answers. A node of its own and a one-node cluster (the metadata path).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TooManySpacesError } from '../src/errors.js';
import { NodeFixture, vec } from './helpers/node.js';

describe('engram-node --max-spaces', () => {
  const fx = new NodeFixture();
  after(() => fx.cleanup());

  for (const [label, extra] of [['alone', []], ['in a one-node cluster', ['--gossip', '127.0.0.1:0', '--bootstrap', '--cluster-key', 'max-spaces-test-key', '--replication-factor', '1']]] as const) {
    it(`${label}: the space past the cap is refused, the others keep working`, async () => {
      const { client } = await fx.start(`cap-${extra.length}`, undefined, { extraArgs: [...extra, '--max-spaces', '2'] });
      assert.equal((await client.createSpace('one', { dimension: 8 })).created, true);
      assert.equal((await client.createSpace('two', { dimension: 8 })).created, true);
      await assert.rejects(client.createSpace('three', { dimension: 8 }), (err: unknown) => {
        assert.ok(err instanceof TooManySpacesError, String(err));
        assert.equal(err.grpcStatus, grpc.status.RESOURCE_EXHAUSTED);
        assert.equal(err.code, 'ERR_TOO_MANY_SPACES');
        assert.equal(err.maxSpaces, 2);
        assert.equal(err.space, 'three');
        assert.match(err.message, /cap of 2 spaces \(--max-spaces\)/);
        return true;
      });
      assert.equal((await client.createSpace('one', { dimension: 8 })).created, false);
      assert.equal((await client.store('two', { memories: [{ id: 'm', embedding: Float32Array.from(vec(8, 1)), content: 'm' }] })).memories, 1);
      assert.deepEqual((await client.status()).spaces.map((s) => s.id).sort(), ['one', 'two']);
    });
  }
});
