/**
 * `npm run bench`: every benchmark, one after the other (never side by side: they would measure
 * each other), then `latest.json` (bench/latest.ts) and docs/performance.md (bench/report.ts).
 *
 *   node dist/bench/run.js [--quick] [--only <id | suite>] [--out DIR]
 *
 * Flags are passed on to every suite. `--only P5` (or E2, P7, throughput, fanout, cluster…) runs
 * just the suite holding that id. `--out DIR` sends the JSON, latest.json and the report to DIR
 * instead of bench/results/ and docs/ — where quick runs belong.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR, loadavg } from './common.js';
import { writeLatest } from './latest.js';
import { DOCS_DIR, writeReport } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Suite (bench/<suite>.ts) → the DESIGN §6 ids it measures. */
const SUITES: Record<string, string[]> = {
  gather: ['P1', 'P2', 'P3'],
  engine: ['E1', 'E2'],
  query: ['P4', 'P5', 'P6'],
  timeout: ['P7'],
  'pool-memory': ['P8'],
  throughput: [],
  fanout: [],
  cluster: [],
  meta: [],
  'naive-coordinator': [],
  'slow-copy': [],
  'cross-spread': [],
};

const argv = process.argv.slice(2);
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
const passOn = onlyAt >= 0 ? [...argv.slice(0, onlyAt), ...argv.slice(onlyAt + 2)] : argv;
const outAt = argv.indexOf('--out');
const outDir = outAt >= 0 && argv[outAt + 1] ? resolve(argv[outAt + 1]!) : undefined;

let suites = Object.keys(SUITES);
if (only !== undefined) {
  const hit = Object.entries(SUITES).find(([suite, ids]) => suite === only || ids.includes(only.toUpperCase()));
  if (!hit) {
    console.error(`--only ${only}: not an id (${Object.values(SUITES).flat().join(', ')}) nor a suite (${suites.join(', ')})`);
    process.exit(2);
  }
  suites = [hit[0]];
}

const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
console.log(`${command}: ${suites.join(', ')}; loadavg ${loadavg().join(' ')}`);
let failed = 0;
for (const suite of suites) {
  console.log(`\n=== bench:${suite} ===`);
  const r = spawnSync(process.execPath, [join(HERE, `${suite}.js`), ...passOn], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench:${suite} failed (${r.status ?? r.signal})`);
  }
}

const resultsDir = outDir ?? RESULTS_DIR;
console.log(`\nwrote ${writeLatest(resultsDir, command)}`);
for (const p of writeReport(resultsDir, outDir ?? DOCS_DIR)) console.log(`wrote ${p}`);
process.exitCode = failed === 0 ? 0 : 1;
