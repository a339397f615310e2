/**
 * The node's Prometheus metrics, on its own prom-client Registry (never the global one), and the
 * HTTP endpoint that serves them at `/metrics`, next to the probes `/healthz` (the process
 * answers) and `/readyz` (the node serves: 200, else 503 with a JSON reason).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  registry: Registry;
  rpcDuration: Histogram<'method' | 'code'>;
  rpcTotal: Counter<'method' | 'code'>;
  /** Unary RPCs being served now (a draining node waits for this to reach 0). */
  rpcInFlight: Gauge;
  /** Internal calls refused for want of the cluster key or a node certificate. */
  internalAuthFailures: Counter<'method' | 'reason'>;
  clusterRefused: Counter<'reason'>;
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
  const rpcInFlight = new Gauge({
    name: 'engram_rpc_in_flight',
    help: 'Unary RPCs this node is serving now; a stopping node drains them before it closes.',
    registers: [registry],
  });
  const internalAuthFailures = new Counter({
    name: 'engram_internal_auth_failures_total',
    help: 'Node-to-node calls refused as UNAUTHENTICATED, by method and reason (no_client_certificate, missing_tag, bad_tag).',
    labelNames: ['method', 'reason'] as const,
    registers: [registry],
  });
  const clusterRefused = new Counter({
    name: 'engram_cluster_refused_total',
    help: 'Nodes of another cluster (same key, other cluster id) refused, by reason (other_cluster: a join; raft_cluster_mismatch: a Raft stream).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  return { registry, rpcDuration, rpcTotal, rpcInFlight, internalAuthFailures, clusterRefused };
}

/** What the metadata gauges read at each scrape. */
export interface MetaGaugeSource {
  /** Term, this node leading (1/0), applied index, voters, learners, voters reachable. */
  metaFigures(): { term: number; leader: number; applied: number; voters: number; learners: number; reachable: number };
}

/** Gauges of the metadata group, read from `source` at each scrape. */
export function registerMetaGauges(registry: Registry, source: MetaGaugeSource): void {
  const gauge = (name: string, help: string, pick: (f: ReturnType<MetaGaugeSource['metaFigures']>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(source.metaFigures()));
      },
    });
  gauge('engram_meta_term', 'Raft term of the metadata group as this node knows it.', (f) => f.term);
  gauge('engram_meta_leader', '1 while this node leads the metadata group, else 0.', (f) => f.leader);
  gauge('engram_meta_applied_index', 'Last metadata log index applied on this node (its table version).', (f) => f.applied);
  gauge('engram_meta_voters', 'Voters of the metadata group.', (f) => f.voters);
  gauge('engram_meta_learners', 'Learners of the metadata group.', (f) => f.learners);
  gauge('engram_meta_voters_reachable', 'Voters of the metadata group this node reaches, itself included: below a majority it cannot create spaces.', (f) => f.reachable);
}

/** What `/readyz` asks: ready or not, and why (src/node/health.ts). */
export interface ReadinessSource {
  ready(): { ready: boolean; state: string; reason: string };
}

/**
 * Serves `GET /metrics` from `registry`, `/healthz` and `/readyz` (from `readiness`; without one,
 * ready whenever live); resolves once listening.
 */
export async function serveMetrics(registry: Registry, host: string, port: number, readiness?: ReadinessSource): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      // Live: the event loop answers. A stopping node is still live until it exits, so a
      // liveness probe never restarts a node in the middle of its drain.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"live":true}\n');
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      const r = readiness?.ready() ?? { ready: true, state: 'serving', reason: 'serving' };
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(r)}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
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
