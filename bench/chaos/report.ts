/** The run's summary on stdout: the history's counts, each nemesis window, every check's verdict, the first violations. */
import { printTable } from '../common.js';
import type { ChaosReport } from './run.js';

export function printReport(r: ChaosReport): void {
  const c = r.check;
  printTable(`Chaos run: ${r.options.nodes} nodes, ${r.options.replicationFactor} copies, ${r.options.spaces} spaces, ${r.options.writers} writers + ${r.options.readers} readers, ${(r.loadMs / 1000).toFixed(1)} s of load, ${r.nemeses} nemeses, cuts ${r.realCuts ? 'by network namespace' : 'by the fault switch'}`, [
    { what: 'writes invoked', count: c.writes.invoked, detail: `${r.options.batchSize} memories each, ${Math.round(r.options.ackAllShare * 100)}% ack all` },
    { what: 'writes ok', count: c.writes.ok, detail: `${c.writes.committedNotAppliedEverywhere} of them ERR_REPLICATION_TIMEOUT (committed)` },
    { what: 'writes fail', count: c.writes.fail, detail: 'nothing written' },
    { what: 'writes unknown', count: c.writes.unknown, detail: `after the heal: ${c.unknownWrites.present} present, ${c.unknownWrites.absent} absent` },
    { what: 'reads', count: c.reads.invoked, detail: `${c.reads.ok} ok, ${c.reads.fail} failed; ${c.reads.leader} leader, ${c.reads.any} any (${c.reads.staleAny} stale)` },
    { what: 'spreads across spaces', count: c.spreads.invoked, detail: `${c.spreads.ok} answered (${c.spreads.full} full, ${c.spreads.leaderFull} of them leader; ${c.spreads.partial} partial), ${c.spreads.fail} failed; ${c.spreads.staleAny} full any answers stale` },
    { what: 'copies read', count: c.copies.copies, detail: `${c.copies.spaces} spaces, ${c.copies.ids} distinct ids; unreadable: ${c.copies.unreadable.join(' ') || 'none'}` },
    { what: 'node crashes', count: r.crashes.length, detail: r.crashes.map((x) => `${x.node} exit ${x.exit}`).join(' ') },
    { what: 'unhandled rejections', count: r.unhandledRejections.length, detail: '' },
  ]);
  printTable('Nemesis windows (ms since start; write unavailability = longest stretch with no write succeeding, per space)', c.windows.map((w) => ({
    nemesis: w.kind, node: w.node, start: w.start, ms: w.end - w.start,
    writes: `${w.writes.invoked} (${w.writes.ok} ok, ${w.writes.fail} fail, ${w.writes.unknown} unknown)`,
    reads: `${w.reads.invoked} (${w.reads.ok} ok)`,
    unavailable_ms: Object.entries(w.writeUnavailableMs).map(([s, ms]) => `${s} ${ms}`).join(', '),
  })));
  printTable('Checks', Object.entries(c.checks).map(([name, n]) => ({ ok: n === 0 ? 'PASS' : 'FAIL', check: name, violations: n })));
  for (const v of c.violations.slice(0, 10)) {
    console.log(`VIOLATION ${v.check}: ${v.detail}`);
    for (const e of v.history) console.log(`  ${JSON.stringify(e)}`);
  }
}
