/** The run's summary on stdout: counts, latency during faults vs without, the fault log, the invariants. */
import { printTable } from '../common.js';
import type { ChaosReport } from './run.js';

export function printReport(r: ChaosReport): void {
  const q = r.queries;
  const w = r.writes;
  const v = r.verify.memories;
  printTable(`Chaos run: ${r.options.nodes} nodes, RF ${r.options.replicationFactor}, ${r.options.spaces} spaces, ${r.options.writers} writers + ${r.options.readers} readers, load ${(r.loadMs / 1000).toFixed(1)} s, ${r.faultsInjected} faults`, [
    { what: 'queries', count: q.total, detail: Object.entries(q.byKind).map(([k, n]) => `${k} ${n}`).join(', ') },
    { what: 'full answers', count: q.full, detail: '' },
    { what: 'partial answers', count: q.partial, detail: `${q.unexplainedPartial} partial/failed outside fault windows` },
    ...Object.entries(q.errors).map(([k, n]) => ({ what: `query error ${k}`, count: n, detail: (q.errorExamples[k] ?? []).slice(0, 3).map((e) => `${e.kind} via ${e.via} at ${e.at} ms`).join('; ') })),
    { what: 'deadline violations', count: q.deadlineViolations, detail: '' },
    { what: 'coverage problems', count: q.coverageProblems, detail: '' },
    { what: 'writes attempted', count: w.attempted, detail: `${r.options.batchSize} memories each, ack quorum` },
    { what: 'writes acknowledged', count: w.acked, detail: '' },
    ...Object.entries(w.refused).map(([k, n]) => ({ what: `write refused ${k}`, count: n, detail: '' })),
    { what: 'acked memories verified', count: v.verified, detail: `of ${v.acked}, on every copy` },
    { what: 'acked memories missing', count: v.missing.length, detail: v.missing.slice(0, 3).join(' ') },
    { what: 'memories duplicated', count: v.duplicated.length, detail: v.duplicated.slice(0, 3).join(' ') },
    { what: 'refused but present', count: v.refusedButPresent, detail: 'durable on the primary before the refusal' },
    { what: 'node crashes', count: r.crashes.length, detail: r.crashes.map((c) => `${c.node} exit ${c.exit}`).join(' ') },
  ]);
  const lat = (name: string, s: { duringFaults: { n: number; p50: number; p99: number; max: number }; withoutFaults: { n: number; p50: number; p99: number; max: number } }) => [
    { latency: `${name} during faults`, n: s.duringFaults.n, p50_ms: s.duringFaults.p50, p99_ms: s.duringFaults.p99, max_ms: s.duringFaults.max },
    { latency: `${name} without faults`, n: s.withoutFaults.n, p50_ms: s.withoutFaults.p50, p99_ms: s.withoutFaults.p99, max_ms: s.withoutFaults.max },
  ];
  printTable('Latency (client-measured, ms)', [
    ...lat('queries', q.latencyMs),
    ...Object.entries(q.latencyByKindMs).flatMap(([k, s]) => lat(k, s)),
    ...lat('writes', w.latencyMs),
  ]);
  printTable('Fault log (ms since the load started)', r.faults.map((f) => ({ at: f.at, fault: f.kind, node: f.node, detail: f.detail ?? '' })));
  printTable('Invariants', r.invariants.map((i) => ({ ok: i.ok ? 'PASS' : 'FAIL', invariant: i.name, detail: i.detail })));
}
