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

/** This node's copy of one space, as the cluster gauges read it. */
export interface SpaceCopyFigures {
  space: string;
  /** Raft role of this copy: leader, follower, candidate, preCandidate or learner. */
  role: string;
  term: number;
  commit: number;
  applied: number;
  /** Voters of the space's group as this copy knows them. */
  voters: number;
  /** Copies the assignment table asks for (primary + replicas); 0 when the table has no entry. */
  intendedCopies: number;
}

/** What the cluster gauges read at each scrape. */
export interface ClusterGaugeSource {
  /** The state of every member this node knows of, itself included. */
  memberStates(): string[];
  partitionState(): string;
  spaceCopies(): SpaceCopyFigures[];
}

const MEMBER_STATES = ['alive', 'suspect', 'down', 'left'] as const;
const PARTITION_STATES = ['connected', 'partitioned', 'healing'] as const;
/** Label values of engram_space_raft_role (Prometheus style: snake_case), by Raft role. */
const RAFT_ROLES: Record<string, string> = { leader: 'leader', follower: 'follower', candidate: 'candidate', preCandidate: 'pre_candidate', learner: 'learner' };

/**
 * Gauges of membership, partition state and this node's space copies, read from `source` at
 * each scrape (nothing is kept between scrapes, so a space that moves away disappears).
 *
 * - `engram_cluster_members{state}`: members by SWIM state (alive, suspect, down, left).
 * - `engram_cluster_partition_state{state}`: 1 for the current state (connected, partitioned, healing), 0 for the others.
 * - `engram_space_raft_role{space,role}`: 1 for this copy's role (leader, follower, candidate, pre_candidate, learner), 0 for the others.
 * - `engram_space_raft_term{space}`, `engram_space_commit_lag{space}` (committed − applied entries).
 * - `engram_space_voters{space}`, `engram_space_under_replicated{space}` (1 while voters < intended copies).
 */
export function registerClusterGauges(registry: Registry, source: ClusterGaugeSource): void {
  new Gauge({
    name: 'engram_cluster_members',
    help: 'Members this node knows of, itself included, by SWIM state (alive, suspect, down, left).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const states = source.memberStates();
      for (const state of MEMBER_STATES) this.set({ state }, states.filter((s) => s === state).length);
    },
  });
  new Gauge({
    name: 'engram_cluster_partition_state',
    help: "1 for this node's partition state (connected; partitioned: it reaches too few members; healing: enough again, not yet for long), 0 for the others.",
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const current = source.partitionState();
      for (const state of PARTITION_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  const perSpace = (name: string, help: string, pick: (c: SpaceCopyFigures) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['space'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const c of source.spaceCopies()) this.set({ space: c.space }, pick(c));
      },
    });
  new Gauge({
    name: 'engram_space_raft_role',
    help: "1 for the Raft role of this node's copy of the space (leader, follower, candidate, pre_candidate, learner), 0 for the others.",
    labelNames: ['space', 'role'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of source.spaceCopies()) for (const [raw, role] of Object.entries(RAFT_ROLES)) this.set({ space: c.space, role }, raw === c.role ? 1 : 0);
    },
  });
  perSpace('engram_space_raft_term', "Raft term of this node's copy of the space.", (c) => c.term);
  perSpace('engram_space_commit_lag', "Entries of the space committed but not yet applied to this node's copy.", (c) => Math.max(0, c.commit - c.applied));
  perSpace('engram_space_voters', "Voters of the space's Raft group as this node's copy knows them.", (c) => c.voters);
  perSpace('engram_space_under_replicated', '1 while the space has fewer voters than the copies its assignment asks for, else 0.', (c) => (c.intendedCopies > 0 && c.voters < c.intendedCopies ? 1 : 0));
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
