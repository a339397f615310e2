/**
 * The node's Prometheus metrics, on its own prom-client Registry (never the global one), and the
 * HTTP endpoint that serves them at `/metrics`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  registry: Registry;
  rpcDuration: Histogram<'method' | 'code'>;
  rpcTotal: Counter<'method' | 'code'>;
  /** Internal calls refused for want of the cluster key or a node certificate. */
  internalAuthFailures: Counter<'method' | 'reason'>;
}

/** Creates the node registry with process metrics and the RPC metrics. */
export function createNodeMetrics(nodeId: string): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry });
  // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
  // flags them); the same figures stay available by type in nodejs_active_handles / _requests /
  // _resources.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const rpcDuration = new Histogram({
    name: 'engram_rpc_duration_seconds',
    help: 'Time to serve one public or internal RPC, by method and gRPC status code.',
    labelNames: ['method', 'code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const rpcTotal = new Counter({
    name: 'engram_rpc_requests_total',
    help: 'RPCs served, by method and gRPC status code.',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  const internalAuthFailures = new Counter({
    name: 'engram_internal_auth_failures_total',
    help: 'Node-to-node calls refused as UNAUTHENTICATED, by method and reason (no_client_certificate, missing_tag, bad_tag).',
    labelNames: ['method', 'reason'] as const,
    registers: [registry],
  });
  return { registry, rpcDuration, rpcTotal, internalAuthFailures };
}

/** Serves `GET /metrics` from `registry`; resolves once listening. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** The bound port of a listening server. */
export function boundPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
