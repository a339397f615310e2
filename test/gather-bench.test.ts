/** Smoke run of `bench/gather.ts --quick`: checks the JSON it writes has every field (not the speed). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'gather.js');

it('bench:gather --quick writes P1-P3, the grid, the crossover and the thresholds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-gather-bench-'));
  try {
    const out = join(dir, 'gather.json');
    execFileSync(process.execPath, [BENCH, '--quick', '--out', out], { stdio: 'pipe', timeout: 120_000 });
    const r = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(r.quick, true);
    assert.equal(typeof r.nativeAvailable, 'boolean');
    assert.equal(typeof r.machine.cpus, 'number');
    for (const id of ['P1', 'P2', 'P3']) {
      const t = r.targets[id];
      assert.ok(t, `${id} missing`);
      for (const k of ['p50', 'p99']) assert.ok(Number.isFinite(t[k]) && t[k] > 0, `${id}.${k}`);
      for (const k of ['target', 'goal']) assert.equal(typeof t[k], 'string', `${id}.${k}`);
      assert.equal(typeof t.goalMet, 'boolean', `${id}.goalMet`);
      assert.ok('ratio' in t && 'msPerPartition' in t && 'targetMet' in t, `${id} fields`);
      if (r.nativeAvailable) assert.ok(t.ratio > 0, `${id}.ratio`);
    }
    assert.ok(Number.isFinite(r.targets.P1.msPerPartition));
    assert.ok(r.grid.length >= 4);
    for (const c of r.grid) {
      assert.ok(['spread', 'recall'].includes(c.kind));
      assert.equal(c.totalRows, c.partitions * c.entries);
      assert.ok(c.ts.p50 > 0 && c.ts.p99 >= c.ts.p50 && c.ts.msPerPartition > 0);
      assert.equal(c.native === null, !r.nativeAvailable);
    }
    for (const k of ['spreadRows', 'recallRows', 'penaltyValues', 'rows']) assert.ok(k in r.crossover, `crossover.${k}`);
    for (const k of ['nativeMinRows', 'asyncMinRows', 'nativePenaltyMinValues', 'method']) assert.ok(k in r.thresholds, `thresholds.${k}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
