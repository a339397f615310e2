/** The reliability doc's last-run section is generated from a chaos report, figures and all. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { lastRunSection, writeReliabilityDoc } from '../bench/chaos-doc.js';

const report = {
  command: 'node dist/bench/chaos.js',
  date: '2026-01-01T00:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'CPU', node: 'v20' },
  loadavgBefore: [1, 1, 1],
  loadavgAfter: [2, 2, 2],
  loadMs: 300_000,
  totalMs: 350_000,
  faultsInjected: 2,
  windows: [{ kind: 'kill9' }, { kind: 'cut' }],
  faults: [{ kind: 'kill9', at: 10 }, { kind: 'cut', at: 20 }, { kind: 'uncut', at: 1_000 }, { kind: 'converged', at: 3_500 }],
  queries: {
    total: 1234, byKind: { recall: 1234 }, full: 1200, partial: 30, errors: { 'UNAVAILABLE/ERR_ALL_PARTITIONS_FAILED': 4 },
    deadlineViolations: 0, coverageProblems: 0,
    latencyMs: { duringFaults: { n: 600, p50: 2.5, p99: 25, max: 600 }, withoutFaults: { n: 634, p50: 2.8, p99: 18, max: 70 } },
  },
  writes: { attempted: 100, acked: 90, refused: { 'UNAVAILABLE/-': 10 }, latencyMs: { duringFaults: { n: 50, p50: 6, p99: 600, max: 620 }, withoutFaults: { n: 50, p50: 8, p99: 46, max: 100 } } },
  verify: { healMs: 19, catchUpMs: 2 },
  crashes: [],
  unhandledRejections: [],
  nodeErrorLogLines: 0,
  invariants: [
    { name: '1 deadlines', ok: true, detail: '0 of 1234 over their bound' },
    { name: '2 coverage', ok: true, detail: 'ok' },
    { name: '3 no acknowledged write missing', ok: false, detail: '269/270 acknowledged memories on every copy; 1 missing' },
  ],
};

describe('chaos doc', () => {
  it('renders the report: counts, latency table, every invariant with its verdict', () => {
    const md = lastRunSection(report);
    assert.match(md, /1,234 \(recall 1,234\): 1,200 full, 30 partial/);
    assert.match(md, /\| queries during faults \| 600 \| 2\.50 \| 25\.0 \| 600 \|/);
    assert.match(md, /\| 3 no acknowledged write missing \| \*\*FAIL\*\* \| 269\/270/);
    assert.match(md, /Rejoin after a cut:\*\* 2\.5 s/);
  });

  it('replaces only the section between its markers', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'engram-chaos-doc-'));
    try {
      const path = join(dir, 'reliability.md');
      await writeFile(path, `# Title\n\n${lastRunSection({ ...report, date: 'old' })}\n\n## After\n`);
      writeReliabilityDoc(report, path);
      const doc = await readFile(path, 'utf8');
      assert.match(doc, /^# Title\n/);
      assert.match(doc, /## After\n$/);
      assert.equal(doc.match(/## Last long run/g)?.length, 1);
      assert.ok(doc.includes(report.date) && !doc.includes(', old,'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
