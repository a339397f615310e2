/**
 * The internal-call tag (src/security/internal-auth.ts) on its own, with a fake clock: what it
 * covers, the replay window and the nonce cache's bound. The same checks over real gRPC, with the
 * digest of the bytes a node received, are in test/security-auth.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UnauthenticatedError } from '../src/errors.js';
import {
  internalCallMetadata, ReplayGuard, requestDigest, STREAM_DIGEST, TIMESTAMP_HEADER, verifyInternalCall,
} from '../src/security/internal-auth.js';

const KEY = 'unit-key';
const CLUSTER = '5b0e8f4a-6c1d-4e2f-8a9b-0c1d2e3f4a5b';
const body = Buffer.from('request bytes');

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof UnauthenticatedError, String(e));
    return e.reason;
  }
}

describe('internal-call tag', () => {
  it('opens exactly the request, method, node and cluster it was made for, once', () => {
    const guard = new ReplayGuard();
    const sign = internalCallMetadata(KEY, 'n1', CLUSTER);
    const md = sign('ExecuteLocal', body);
    const ok = { clusterId: CLUSTER, digest: requestDigest(body), replay: guard };
    assert.equal(reason(() => verifyInternalCall(KEY, sign('ExecuteLocal', body), 'Replicate', ok)), 'bad_tag');
    assert.equal(reason(() => verifyInternalCall(KEY, md, 'ExecuteLocal', { ...ok, digest: requestDigest(Buffer.from('other bytes')) })), 'bad_tag');
    assert.equal(reason(() => verifyInternalCall('other-key', md, 'ExecuteLocal', ok)), 'bad_tag');
    assert.equal(reason(() => verifyInternalCall(KEY, md, 'ExecuteLocal', { ...ok, digest: undefined })), 'bad_tag', 'unseen bytes are never an empty body');
    assert.equal(reason(() => verifyInternalCall(KEY, sign('ExecuteLocal', body), 'ExecuteLocal', { ...ok, clusterId: 'another' })), 'other_cluster');
    assert.equal(verifyInternalCall(KEY, md, 'ExecuteLocal', ok), 'n1');
    assert.equal(reason(() => verifyInternalCall(KEY, md, 'ExecuteLocal', ok)), 'replayed_tag');
    // A stream signs the empty body.
    assert.equal(verifyInternalCall(KEY, sign('Raft'), 'Raft', { clusterId: CLUSTER, digest: STREAM_DIGEST, replay: guard }), 'n1');
  });

  it('refuses a timestamp outside the window, and a tampered one', () => {
    let now = 1_000_000;
    const guard = new ReplayGuard(30_000, () => now);
    const md = internalCallMetadata(KEY, 'n1', CLUSTER)('AwaitApplied', body);
    const opts = { clusterId: CLUSTER, digest: requestDigest(body), replay: guard };
    const signedAt = Number(md.get(TIMESTAMP_HEADER)[0]);
    now = signedAt + 30_001;
    assert.equal(reason(() => verifyInternalCall(KEY, md, 'AwaitApplied', opts)), 'stale_tag');
    now = signedAt - 30_001;
    assert.equal(reason(() => verifyInternalCall(KEY, md, 'AwaitApplied', opts)), 'stale_tag', 'from the future too');
    now = signedAt;
    const moved = md.clone();
    moved.set(TIMESTAMP_HEADER, String(signedAt + 1));
    assert.equal(reason(() => verifyInternalCall(KEY, moved, 'AwaitApplied', opts)), 'bad_tag');
    assert.equal(verifyInternalCall(KEY, md, 'AwaitApplied', opts), 'n1');
  });

  it('keeps each nonce while a replay could pass the clock check, then lets it go', () => {
    let now = 0;
    const W = 1_000;
    const guard = new ReplayGuard(W, () => now);
    for (let i = 0; i < 100; i++) guard.check('n1', 'm', now, `a${i}`);
    assert.equal(guard.size, 100);
    // A call stamped up to W in the future is accepted until 2W after it arrived: still held.
    now = 2 * W - 1;
    guard.check('n1', 'm', now, 'b');
    assert.equal(guard.size, 101);
    assert.throws(() => guard.check('n1', 'm', W, 'a5'), (e: unknown) => e instanceof UnauthenticatedError && e.reason === 'replayed_tag');
    // Past 2W the first hundred can no longer pass the clock check: dropped.
    now = 2 * W;
    guard.check('n1', 'm', now, 'c');
    assert.equal(guard.size, 2);
    // The same nonce from another node is another call.
    guard.check('n2', 'm', now, 'c');
    assert.equal(guard.size, 3);
  });
});
