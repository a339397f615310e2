/**
 * Preload (`NODE_OPTIONS=--import=<this file>`) for bench/space.ts's idle window: the first
 * SIGUSR2 starts the in-process CPU profiler, the second writes
 * `<ENGRAM_IDLE_PROF_DIR>/idle.<pid>.cpuprofile`. Until then it costs nothing.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.ENGRAM_IDLE_PROF_DIR;
if (dir) {
  let session: Session | undefined;
  process.on('SIGUSR2', () => {
    if (!session) {
      session = new Session();
      session.connect();
      session.post('Profiler.enable');
      session.post('Profiler.setSamplingInterval', { interval: 500 });
      session.post('Profiler.start');
      return;
    }
    const s = session;
    session = undefined;
    s.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `idle.${process.pid}.cpuprofile`), JSON.stringify(res.profile));
      s.disconnect();
    });
  });
}
