/**
 * The short chaos run (bench/chaos/, `npm run chaos` is the long one): 5 real nodes with
 * replication factor 3 and fast SWIM timings, 4 writers and 4 readers for ~35 s while a node is
 * killed -9 and restarted, another delayed, one flapping and one cut off; then every invariant of
 * docs/reliability.md must hold. The report goes to a temp file (and is printed on failure).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { SHORT_RUN } from '../bench/chaos/options.js';
import { runChaos } from '../bench/chaos/run.js';

describe('chaos under load (short run)', () => {
  it('keeps answering within deadlines, loses and duplicates nothing acknowledged, leaks nothing', { timeout: 150_000 }, async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'engram-chaos-test-'));
    try {
      const report = await runChaos(SHORT_RUN);
      const path = join(dir, 'chaos.json');
      await writeFile(path, JSON.stringify(report, null, 2));
      const failed = report.invariants.filter((i) => !i.ok);
      assert.deepEqual(failed, [], `invariants failed (node logs in ${report.logDir}):\n${failed.map((i) => `${i.name}: ${i.detail}`).join('\n')}`);
      // The run really did what it claims: every fault kind, every query kind, acknowledged writes.
      assert.deepEqual(new Set(report.windows.map((w) => w.kind)), new Set(['kill9', 'delay', 'flap', 'cut']));
      for (const kind of ['recall', 'spread', 'complete', 'imagine', 'consolidate']) assert.ok((report.queries.byKind[kind] ?? 0) > 0, `no ${kind} query ran`);
      assert.ok(report.queries.latencyMs.duringFaults.n > 0 && report.queries.latencyMs.withoutFaults.n > 0);
      assert.ok(report.writes.acked > 100, `only ${report.writes.acked} writes acknowledged`);
      assert.equal(report.verify.memories.verified, report.writes.acked * SHORT_RUN.batchSize);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
