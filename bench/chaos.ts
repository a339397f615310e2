/**
 * `npm run chaos`: a history of concurrent writes and reads on a real cluster while the nemesis
 * kills, cuts, wipes, restarts, adds and removes nodes; then the history checked against every copy.
 *
 *   node dist/bench/chaos.js [--short] [--rounds N] [--out FILE.json|DIR] [--seed N] [--verbose]
 *
 * Default: the long run (every nemesis 3 times, node SWIM defaults), JSON to
 * bench/results/chaos.json and docs/reliability.md regenerated from it. `--short` runs the
 * `npm test` shape. Exits 1 if a check fails.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { tmpdir } from 'node:os';
import { writeReliabilityDoc } from './chaos-doc.js';
import { argInt, loadavg, writeResults } from './common.js';
import { LONG_RUN, SHORT_RUN } from './chaos/options.js';
import { printReport } from './chaos/report.js';
import type { HistoryEvent } from './chaos/history.js';
import { runChaos } from './chaos/run.js';

/** The invoke and completion of every operation that did not complete `ok`. */
function notOk(events: HistoryEvent[]): HistoryEvent[] {
  const ops = new Set(events.filter((e) => e.type !== 'invoke' && e.type !== 'ok').map((e) => e.op));
  return events.filter((e) => ops.has(e.op));
}

const argv = process.argv.slice(2);
const base = argv.includes('--short') ? SHORT_RUN : LONG_RUN;
const options = { ...base, rounds: argInt('--rounds', base.rounds), seed: argInt('--seed', base.seed), verbose: base.verbose || argv.includes('--verbose') };
const load0 = loadavg();
const report = await runChaos(options);
printReport(report);
// The JSON is committed: name the log directory relative to the temp dir, not by its machine path.
const path = writeResults('chaos.json', `node dist/bench/chaos.js ${argv.join(' ')}`.trim(), {
  loadavgBefore: load0,
  loadavgAfter: loadavg(),
  ...report,
  // The whole history is ~10 MB for a long run: the committed JSON keeps the operations that did
  // not end ok (the ones a reader of a failure wants), the counts keep the rest.
  history: notOk(report.history),
  historyEvents: report.history.length,
  logDir: `<os.tmpdir()>/${basename(report.logDir)}`,
  // A wiped node's fault names its data directory: relative to the temp dir too.
  faults: JSON.parse(JSON.stringify(report.faults).split(tmpdir()).join('<os.tmpdir()>')) as typeof report.faults,
});
// A long run into bench/results is the one docs/reliability.md reports.
if (!argv.includes('--short') && !argv.includes('--out')) {
  writeReliabilityDoc(JSON.parse(readFileSync(path, 'utf8')));
  console.log(`docs/reliability.md updated from ${path}`);
}
console.log(`\n${report.ok ? 'every check holds' : 'CHECK FAILED'}; JSON: ${path}${report.ok ? '' : `; node logs kept in ${report.logDir}`}`);
process.exitCode = report.ok ? 0 : 1;
