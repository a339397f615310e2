/**
 * `npm run bench`: every benchmark, one after the other (never side by side: they would measure
 * each other). Flags are passed on, so `npm run bench -- --quick` runs the short versions.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SUITES = ['gather', 'engine', 'query', 'cluster'];

let failed = 0;
for (const suite of SUITES) {
  console.log(`\n=== bench:${suite} ===`);
  const r = spawnSync(process.execPath, [join(HERE, `${suite}.js`), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench:${suite} failed (${r.status ?? r.signal})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
