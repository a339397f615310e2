/** The reliability doc's last-run section is generated from a chaos report, figures and all. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { lastRunSection, writeReliabilityDoc } from '../bench/chaos-doc.js';

const window = (kind: string, ok: number, unavailable: number) => ({
  kind, node: 'n1', start: 1_000, end: 7_500,
  writes: { invoked: ok + 3, ok, fail: 1, unknown: 2 }, reads: { invoked: 50, ok: 48 },
  writeUnavailableMs: { 'chaos-s0': unavailable, 'chaos-s1': 0 },
});

const report = {
  command: 'node dist/bench/chaos.js',
  date: '2026-01-01T00:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'CPU', node: 'v20' },
  loadavgBefore: [1, 1, 1],
  loadavgAfter: [2, 2, 2],
  options: { nodes: 5, replicationFactor: 3, spaces: 3 },
  realCuts: true,
  loadMs: 300_000,
  totalMs: 350_000,
  nemeses: 2,
  crashes: [],
  unhandledRejections: [],
  nodeErrorLogLines: 0,
  check: {
    writes: { invoked: 1234, ok: 1200, fail: 20, unknown: 14, committedNotAppliedEverywhere: 7 },
    unknownWrites: { present: 4, absent: 10 },
    reads: { invoked: 900, ok: 880, fail: 20, leader: 450, any: 450, staleAny: 3 },
    copies: { spaces: 3, copies: 9, ids: 3_600, unreadable: [] },
    windows: [window('kill-leader', 100, 1_234), window('cut-leader', 90, 2_000)],
    violations: [{ check: 'ok write on every copy', detail: 'op 7 (ok): 3 ids missing on n2', history: [] }],
    checks: { 'ok write on every copy': 1, 'copies of a space identical': 0 },
  },
};

describe('chaos doc', () => {
  it('renders the report: history counts, a row per nemesis, every check with its verdict', () => {
    const md = lastRunSection(report);
    assert.match(md, /1,234 invoked: 1,200 ok \(7 of them ERR_REPLICATION_TIMEOUT, committed\), 20 fail, 14 unknown \(after the heal 4 present, 10 absent\)/);
    assert.match(md, /\| kill-leader \| n1 \| 6\.5 \| 103 \| 100 \| 1 \| 2 \| 50 \(48\) \| 1,234 \|/);
    assert.match(md, /\| ok write on every copy \| \*\*FAIL\*\* \| 1 \|/);
    assert.match(md, /\| copies of a space identical \| PASS \| 0 \|/);
    assert.match(md, /- ok write on every copy: op 7 \(ok\): 3 ids missing on n2/);
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
