/**
 * QueryMetrics on its own registry: the scrape carries the names, labels and values the executor
 * recorded, and `promtool check metrics` (Debian package `prometheus`) accepts it without a
 * single lint warning.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Registry, register as globalRegistry } from 'prom-client';
import { QueryMetrics } from '../src/query/query-metrics.js';
import { needTool } from './helpers/system-tools.js';

function recorded(): { registry: Registry; metrics: QueryMetrics } {
  const registry = new Registry();
  // As in the node's registry: every series carries the reporting node.
  registry.setDefaultLabels({ node: 'n1' });
  const metrics = new QueryMetrics(registry);
  metrics.scatter(0.012, 3);
  metrics.partition('n1', 'ok', 0.0004);
  metrics.partition('n2', 'ok', 0.003);
  metrics.partition('n3', 'timeout', 0.5);
  metrics.query('multi', 'partial', 0.51, 1 / 3);
  metrics.scatter(0.002, 1);
  metrics.partition('n2', 'unavailable', 0.001);
  metrics.query('single', 'failed', 0.002, undefined);
  const pool = metrics.poolMetrics();
  pool.connectionCreated('127.0.0.1:1');
  pool.connectionCall('127.0.0.1:1', false);
  pool.connectionCall('127.0.0.1:1', true);
  pool.connectionCall('127.0.0.1:1', true);
  pool.connectionEvicted('127.0.0.1:1');
  return { registry, metrics };
}

/** Sample lines of a Prometheus text scrape as {key: name + sorted labels, value}. */
function parseSamples(text: string): Array<{ key: string; value: number }> {
  const out: Array<{ key: string; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    out.push({ key: `${m[1]}{${labels}}`, value: Number(m[3]) });
  }
  return out;
}

describe('QueryMetrics', () => {
  it('exposes what the executor and the pool recorded, with the reporting node kept', async () => {
    const { registry } = recorded();
    const text = await registry.metrics();
    // Label order in the exposition is prom-client's business; compare label sets.
    const samples = parseSamples(text);
    const expectLine = (line: string): void => {
      const [want] = parseSamples(line);
      assert.ok(want, line);
      const got = samples.find((s) => s.key === want.key);
      assert.ok(got, `no sample ${want.key} in the scrape:\n${text}`);
      assert.equal(got.value, want.value, want.key);
    };
    expectLine('engram_cluster_query_scatter_duration_seconds_count{node="n1"} 2');
    expectLine('engram_cluster_query_scatter_fanout_bucket{le="1",node="n1"} 1');
    expectLine('engram_cluster_query_scatter_fanout_sum{node="n1"} 4');
    expectLine('engram_cluster_query_partition_duration_seconds_count{target_node="n3",status="timeout",node="n1"} 1');
    expectLine('engram_cluster_query_partition_duration_seconds_bucket{le="0.0005",target_node="n1",status="ok",node="n1"} 1');
    expectLine('engram_cluster_query_partitions_total{status="ok",node="n1"} 2');
    expectLine('engram_cluster_query_partitions_total{status="timeout",node="n1"} 1');
    expectLine('engram_cluster_query_partitions_total{status="unavailable",node="n1"} 1');
    expectLine('engram_cluster_query_partitions_total{status="error",node="n1"} 0');
    expectLine('engram_cluster_queries_total{strategy="multi",result="partial",node="n1"} 1');
    expectLine('engram_cluster_queries_total{strategy="single",result="failed",node="n1"} 1');
    expectLine('engram_cluster_queries_total{strategy="broadcast",result="full",node="n1"} 0');
    expectLine('engram_cluster_query_partial_results_total{node="n1"} 1');
    expectLine('engram_cluster_query_duration_seconds_count{strategy="multi",node="n1"} 1');
    // Only the answered query's penalty: 1/3 falls in (0.3, 0.35].
    expectLine('engram_cluster_query_confidence_penalty_count{node="n1"} 1');
    expectLine('engram_cluster_query_confidence_penalty_bucket{le="0.3",node="n1"} 0');
    expectLine('engram_cluster_query_confidence_penalty_bucket{le="0.35",node="n1"} 1');
    expectLine('engram_cluster_connections_created_total{node="n1"} 1');
    expectLine('engram_cluster_connection_calls_total{reused="true",node="n1"} 2');
    expectLine('engram_cluster_connection_calls_total{reused="false",node="n1"} 1');
    expectLine('engram_cluster_connection_evictions_total{node="n1"} 1');
    assert.deepEqual(globalRegistry.getMetricsAsArray(), [], 'nothing lands on the global registry');
  });

  it('passes promtool check metrics with no lint warnings', async (t) => {
    if (!needTool(t, 'promtool')) return;
    const { registry } = recorded();
    const text = await registry.metrics();
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.ifError(run.error);
    assert.equal(run.status, 0, `promtool check metrics failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
    assert.equal(`${run.stdout}${run.stderr}`.trim(), '', 'promtool printed lint findings');
  });
});
