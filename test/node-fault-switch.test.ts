/** The test-only fault switch is off unless the node runs with --enable-faults, and loopback-only. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { isLoopbackPeer, peerHost } from '../src/node/internal-service.js';
import { protos } from '../src/wire/proto.js';
import { NodeFixture } from './helpers/node.js';

describe('fault switch', () => {
  const fx = new NodeFixture();
  after(() => fx.cleanup());

  it('tells loopback callers from others', () => {
    for (const p of ['127.0.0.1:5000', 'ipv4:127.0.0.1:5000', '[::1]:5000', 'ipv6:[::1]:5000', '[::ffff:127.0.0.1]:5000']) assert.equal(isLoopbackPeer(p), true, p);
    for (const p of ['10.0.0.1:5000', 'ipv4:192.168.1.2:5000', '[2001:db8::1]:5000', '128.0.0.1:1']) assert.equal(isLoopbackPeer(p), false, p);
    // --fault-callers names hosts: the peer's host is what is compared.
    assert.deepEqual(['10.0.0.1:5000', 'ipv4:10.0.0.1:5000', '[2001:db8::1]:7', 'ipv6:[::1]:9'].map(peerHost), ['10.0.0.1', '10.0.0.1', '2001:db8::1', '::1']);
  });

  it('refuses SetFault on a node started without --enable-faults', async () => {
    const n = await fx.start('no-faults');
    const { InternalClient } = protos();
    const client = new InternalClient(n.proc.grpcAddress, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.SetFault!({ cutOff: true, delayMs: 0 }, { deadline: Date.now() + 5_000 }, (e: grpc.ServiceError | null) => resolve(e)),
    );
    client.close();
    assert.equal(err?.code, grpc.status.PERMISSION_DENIED);
    assert.match(err!.details, /--enable-faults/);
  });
});
