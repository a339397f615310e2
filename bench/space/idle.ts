/**
 * Idle CPU with SPACES spaces × 3 copies on 3 nodes: CPU time (/proc/<pid>/stat) of each node
 * over IDLE_S seconds with no request (not even status), after a baseline window with no space.
 * Then a short CPU profile of the same idle state (bench/space/idle-profile-preload.ts) says
 * where the time goes.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { cpuSeconds, r1, sleep, withCluster } from './harness.js';
import { analyse, type CpuProfile, type ProfileSummary } from './profile.js';

export interface IdleResult {
  spaces: number; idleS: number; createMs: number; leadersMs: number;
  nodes: { node: string; baselineCpuPercent: number; cpuPercent: number; groupsLed: number; groups: number }[];
  profileS: number; profiles: Record<string, ProfileSummary>;
}

async function cpuOver(c: LocalCluster, seconds: number): Promise<Map<string, number>> {
  const before = c.running().map((n) => ({ id: n.id, pid: n.proc.pid, cpu: cpuSeconds(n.proc.pid) }));
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  return new Map(before.map((b) => [b.id, r1(((cpuSeconds(b.pid) - b.cpu) / wall) * 100)]));
}

export async function idleCpu(spaces: number, idleS: number, profileS: number, log: (s: string) => void): Promise<IdleResult> {
  const profDir = await mkdtemp(join(os.tmpdir(), 'engram-bench-space-prof-'));
  const previous = process.env.NODE_OPTIONS;
  const preload = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'idle-profile-preload.js')).href;
  try {
    // Set only while the nodes start (they inherit the environment); the preload is inert until SIGUSR2.
    process.env.NODE_OPTIONS = `${previous ?? ''} --import=${preload}`.trim();
    process.env.ENGRAM_IDLE_PROF_DIR = profDir;
    return await withCluster(3, {}, async (c) => {
      if (previous === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = previous;
      const baseline = await cpuOver(c, Math.min(10, idleS));
      log(`  baseline (no space): ${[...baseline].map(([id, p]) => `${id} ${p}%`).join(', ')}`);
      const via = c.node('n1').client;
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < spaces) await via.createSpace(`idle-${next++}`, { dimension: 8, copies: 3 });
      }));
      const createMs = performance.now() - t0;
      log(`  ${spaces} spaces created in ${r1(createMs)} ms`);
      const led = await c.until('every group to have a leader', 300_000, async () => {
        const all = await c.statuses();
        const ok = all.every((s) => s.groups.length === spaces && s.groups.every((g) => g.leader !== '' && g.voters.length === 3));
        return ok ? new Map(all.map((s) => [s.nodeId, { led: s.groups.filter((g) => g.role === 'leader').length, groups: s.groups.length }])) : undefined;
      }, 1_000);
      const leadersMs = performance.now() - t0;
      await sleep(2_000);
      const cpu = await cpuOver(c, idleS);
      const nodes = c.running().map((n) => ({ node: n.id, baselineCpuPercent: baseline.get(n.id)!, cpuPercent: cpu.get(n.id)!, groupsLed: led.get(n.id)!.led, groups: led.get(n.id)!.groups }));
      log(`  idle over ${idleS} s: ${nodes.map((n) => `${n.node} ${n.cpuPercent}% (leads ${n.groupsLed})`).join(', ')}`);
      const profiles: Record<string, ProfileSummary> = {};
      if (profileS > 0) {
        const pids = new Map(c.running().map((n) => [n.id, n.proc.pid]));
        for (const pid of pids.values()) process.kill(pid, 'SIGUSR2');
        await sleep(profileS * 1000);
        for (const pid of pids.values()) process.kill(pid, 'SIGUSR2');
        await c.until('the idle profiles', 30_000, async () => ((await readdir(profDir)).length >= pids.size ? true : undefined), 200);
        await sleep(500);
        for (const [id, pid] of pids) {
          const p = JSON.parse(await readFile(join(profDir, `idle.${pid}.cpuprofile`), 'utf8')) as CpuProfile;
          profiles[id] = analyse(p);
        }
      }
      return { spaces, idleS, createMs: r1(createMs), leadersMs: r1(leadersMs), nodes, profileS, profiles };
    });
  } finally {
    if (previous === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = previous;
    await rm(profDir, { recursive: true, force: true });
  }
}
