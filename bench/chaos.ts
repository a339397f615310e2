/**
 * `npm run chaos`: load and faults on a real 5-node loopback cluster, then the invariants.
 *
 *   node dist/bench/chaos.js [--duration SECONDS] [--short] [--out FILE.json|DIR] [--seed N]
 *
 * Default: the long run (5 minutes of load, node SWIM defaults), JSON to bench/results/chaos.json.
 * `--short` runs the CI shape (fast SWIM timings, ~35 s). Exits 1 if an invariant fails.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { writeReliabilityDoc } from './chaos-doc.js';
import { argInt, loadavg, writeResults } from './common.js';
import { LONG_RUN, SHORT_RUN } from './chaos/options.js';
import { printReport } from './chaos/report.js';
import { runChaos } from './chaos/run.js';

const argv = process.argv.slice(2);
let failed = false;
// Anything unhandled in the generator fails the run (runChaos also counts them in invariant 5).
process.on('unhandledRejection', (err) => {
  failed = true;
  console.error('unhandled rejection in the load generator:', err);
});
const base = argv.includes('--short') ? SHORT_RUN : LONG_RUN;
const options = { ...base, durationMs: argInt('--duration', base.durationMs / 1000) * 1000, seed: argInt('--seed', base.seed) };
const load0 = loadavg();
const report = await runChaos(options);
printReport(report);
// The JSON is committed: name the log directory relative to the temp dir, not by its machine path.
const path = writeResults('chaos.json', `node dist/bench/chaos.js ${argv.join(' ')}`.trim(), {
  loadavgBefore: load0,
  loadavgAfter: loadavg(),
  ...report,
  logDir: `<os.tmpdir()>/${basename(report.logDir)}`,
});
// A long run into bench/results is the one docs/reliability.md reports.
if (!argv.includes('--short') && !argv.includes('--out')) {
  writeReliabilityDoc(JSON.parse(readFileSync(path, 'utf8')));
  console.log(`docs/reliability.md updated from ${path}`);
}
console.log(`\n${report.ok && !failed ? 'all invariants hold' : 'INVARIANT FAILED'}; JSON: ${path}${report.ok ? '' : `; node logs kept in ${report.logDir}`}`);
process.exitCode = report.ok && !failed ? 0 : 1;
