/**
 * Smoke test of the benchmark report (not of speed): `node dist/bench/report.js --in DIR --out DIR`
 * over a small fixture of suite JSON files writes performance.md with every DESIGN §6 id and both
 * SVG charts; a suite without a file leaves its ids "not measured".
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPORT = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'report.js');
const IDS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8', 'E1', 'E2'];

const meta = (command: string) => ({ date: '2026-01-02T03:04:05.000Z', command, machine: { cpus: 2, cpuModel: 'test cpu', memoryGiB: 4, node: 'v20', platform: 'linux-x64' }, quick: false });
const gatherTarget = (p50: number, perPart: number | null) => ({ what: 'x', backend: 'native', p50, p99: p50 * 2, msPerPartition: perPart, ratio: 0.3, nativeSpeedup: 3.3, target: 't', goal: 'g', targetMet: true, goalMet: false });
const ramp = (base: number) => Array.from({ length: 50 }, (_, i) => base + i * 0.01);

function fixture(dir: string, withoutTimeout: boolean): void {
  const put = (name: string, body: object) => writeFileSync(join(dir, name), JSON.stringify(body));
  put('gather.json', { ...meta('gather'), targets: { P1: gatherTarget(1.9, 0.19), P2: gatherTarget(0.036, 0.0036), P3: gatherTarget(0.07, null) } });
  put('engine.json', { ...meta('engine'), targets: { E1: { p50Ms: 0.06, p99Ms: 2.3, targetMet: true, goalMet: true }, E2: { p50Ms: 1.6, p99Ms: 9.8, targetMet: null, goalMet: true } } });
  put('query.json', {
    ...meta('query'),
    targets: { P4: { p50Ms: 0.07, p99Ms: 0.29, targetMet: true, goalMet: true }, P5: { worstRatio: 1.9, inProcessDiffMs: 0.04, targetMet: true, goalMet: false }, P6: { ratio: 1, targetMet: true, goalMet: true } },
    p5: { cluster: { ratios: { recall: { p50: 1.9, p99: 1.6 }, spread: { p50: 1.8, p99: 1.5 } }, samplesMs: { recallOwner: ramp(1), recallNonOwner: ramp(2), spreadOwner: ramp(1.1), spreadNonOwner: ramp(2.1) } } },
    p6: { steady: { calls: 100, durationMs: 1000, clients: 8, connectionsCreated: 0 } },
  });
  if (!withoutTimeout) put('timeout.json', { ...meta('timeout'), setup: { runs: 30 }, targets: { P7: { maxMs: 5, p50Ms: 2, p99Ms: 4.9, targetMet: true, goalMet: true, coordinatorSide: { p50Ms: 0.1, p99Ms: 0.3, maxMs: 0.4 } } } });
  put('pool-memory.json', { ...meta('pool-memory'), setup: { rounds: 1 }, targets: { P8: { rssMBPerConnection: 0.08, heapPlusExternalMBPerConnection: 0.03, targetMet: true, goalMet: true } } });
  put('throughput.json', { ...meta('throughput'), throughput: [1, 8, 32].map((clients) => ({ clients, qps: 100 * clients, p50Ms: 2, p99Ms: 9, queries: 1000, loadavg: [1, 1, 1] })) });
  put('fanout.json', { ...meta('fanout'), fanout: [1, 3, 10, 30].map((partitions) => ({ partitions, nodes: Math.min(partitions, 4), p50Ms: partitions, p99Ms: 2 * partitions, meanMs: partitions, n: 40 })) });
  const pcts = (p50: number) => ({ p50, p99: 3 * p50, p999: 5 * p50, mean: p50, n: 100 });
  put('slow-copy.json', {
    ...meta('slow-copy'),
    setup: { fault: { node: 'n1', delayMs: 50, probability: 0.1 }, queriesPerCoordinatorPerPhase: 100 },
    rows: [
      { mode: 'fixed', clean: pcts(1), fault: pcts(2), p99VsClean: 17.1, extraCalls: 0, extraCallShare: 0, answeredBy: { n1: 100 } },
      { mode: 'hedged', clean: pcts(1), fault: pcts(1.2), p99VsClean: 1.21, extraCalls: 4, extraCallShare: 0.04, answeredBy: { n1: 20, n2: 40, n3: 40 } },
    ],
    goal: { p99Ratio: 1.21, extraCallShare: 0.04, met: true },
  });
  put('naive.json', {
    ...meta('naive'),
    setup: { nodes: 3, spaces: [{}, {}, {}], memoriesPerSpace: 2000, dimension: 64 },
    rows: [{ kind: 'imagine', partitions: 10, coordinator: 'naive', oneClient: { p50Ms: 25.6, p99Ms: 179 }, clients8: { qps: 36.9, p50Ms: 190, p99Ms: 539 } }],
    absent: { rows: ['recall x3'], why: 'single-space queries' },
  });
}

function report(withoutTimeout: boolean): { md: string; svgs: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'engram-bench-report-'));
  try {
    fixture(dir, withoutTimeout);
    execFileSync(process.execPath, [REPORT, '--in', dir, '--out', join(dir, 'docs')], { stdio: 'pipe', timeout: 30_000 });
    const svgs = ['perf-fanout-latency.svg', 'perf-p5-owner-vs-non-owner.svg'].map((f) => {
      assert.ok(existsSync(join(dir, 'docs', f)), `${f} written`);
      return readFileSync(join(dir, 'docs', f), 'utf8');
    });
    return { md: readFileSync(join(dir, 'docs', 'performance.md'), 'utf8'), svgs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it('bench report: performance.md has a row per DESIGN id, the tables and both SVG charts', () => {
  const { md, svgs } = report(false);
  for (const id of IDS) assert.match(md, new RegExp(`^\\| ${id} \\|`, 'm'), `row for ${id}`);
  assert.doesNotMatch(md, /not measured \|/);
  assert.match(md, /^\| 32 \| 3200 \|/m, 'throughput row for 32 clients');
  assert.match(md, /^\| 30 \| 4 \| 30 \| 60 \|/m, 'fanout row for 30 partitions');
  assert.match(md, /\(perf-fanout-latency\.svg\)/);
  assert.match(md, /\(perf-p5-owner-vs-non-owner\.svg\)/);
  assert.match(md, /test cpu/);
  for (const svg of svgs) {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<polyline /);
    assert.match(svg, /<\/svg>\n$/);
  }
  assert.match(svgs[0]!, />p99</);
  assert.match(svgs[1]!, />Recall, non-owner</);
  assert.match(md, /^\| hedged \| 1 \| 3 \| 5 \| 1\.2 \| 3\.6 \| 6 \| 1\.21× \| 4 \(4%\) \| 20 \/ 40 \/ 40 \|/m, 'slow-copy row');
  assert.match(md, /3\.6 .*: 1\.21×, 4% — met\./s, 'slow-copy goal line');
  assert.match(md, /^\| imagine \| 10 \| naive \| 25\.6 \| 179 \| 36\.9 \| 190 \| 539 \|/m, 'naive row');
  assert.match(md, /Not in the table: recall x3\. single-space queries/);
});

it('bench report: a suite without results leaves its id not measured', () => {
  const { md } = report(true);
  assert.match(md, /^\| P7 \| [^\n]*\| not measured \|/m);
  assert.match(md, /Not measured: P7\./);
});
