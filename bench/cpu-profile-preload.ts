/**
 * Preload (`NODE_OPTIONS=--import=<this file>`) that CPU-profiles the whole process through the
 * in-process inspector and writes `<ENGRAM_CPU_PROF_DIR>/CPU.<pid>.cpuprofile` at exit. Node 20
 * refuses `--cpu-prof` in NODE_OPTIONS; this does the same for a process the benchmark spawns.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.ENGRAM_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: Number(process.env.ENGRAM_CPU_PROF_INTERVAL_US ?? 200) });
  session.post('Profiler.start');
  // The main-thread session answers synchronously, so the profile can be written in 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
    session.disconnect();
  });
}
