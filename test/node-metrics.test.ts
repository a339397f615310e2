/** The node serves Prometheus text at /metrics from its own registry. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NodeFixture } from './helpers/node.js';

describe('node /metrics', () => {
  const fx = new NodeFixture();
  after(() => fx.cleanup());

  it('counts RPCs by method and code', async () => {
    const n = await fx.start('metrics', undefined, { metrics: '127.0.0.1:0' });
    await n.client.createSpace('metric-space', { dimension: 4 });
    await n.client.createSpace('BAD').catch(() => undefined);
    const res = await fetch(`http://${n.proc.metricsAddress}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const body = await res.text();
    assert.match(body, /engram_rpc_requests_total\{method="CreateSpace",code="OK",node="metrics"\} 1/);
    assert.match(body, /engram_rpc_requests_total\{method="CreateSpace",code="INVALID_ARGUMENT",node="metrics"\} 1/);
    assert.match(body, /process_cpu_seconds_total/);
    assert.equal((await fetch(`http://${n.proc.metricsAddress}/other`)).status, 404);
  });
});
