/** Summary of a V8 CPU profile: self time by coarse category, heaviest functions, project functions inclusive. */
import { round } from '../common.js';

import { frameCategory, type CpuProfile } from '../cpu-profile-category.js';

export type { CpuProfile } from '../cpu-profile-category.js';
export interface ProfileSummary {
  profiledMs: number; busyMs: number; busyPercent: number;
  categories: { category: string; ms: number; shareOfBusy: number }[];
  selfTop: { fn: string; ms: number }[];
  srcInclusive: { fn: string; ms: number; shareOfBusy: number }[];
}

const category = (f: CpuProfile['nodes'][number]['callFrame']) => frameCategory(f, 'file');

export function analyse(p: CpuProfile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const c = category(n.callFrame);
    cats.set(c, (cats.get(c) ?? 0) + us);
    if (c === 'idle') continue;
    const short = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist[^/]*\//, '');
    // A native frame (no script) is named after its nearest caller with one.
    let caller = '';
    if (!n.callFrame.url) {
      let up = parent.get(id);
      while (up !== undefined && !byId.get(up)!.callFrame.url) up = parent.get(up);
      const f = up === undefined ? undefined : byId.get(up)!.callFrame;
      if (f) caller = ` ← ${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist[^/]*\//, '')}:${f.lineNumber + 1}`;
    }
    const key = `${n.callFrame.functionName || '(anonymous)'} ${short}:${n.callFrame.lineNumber + 1}${caller}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const m = /dist[^/]*\/src\/(.+)\.js$/.exec(f.url);
      if (!m) continue;
      const k = `${f.functionName || '(anonymous)'} src/${m[1]}.ts`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const totalUs = p.endTime - p.startTime;
  const busyUs = totalUs - (cats.get('idle') ?? 0);
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return {
    profiledMs: round(totalUs / 1000, 1), busyMs: round(busyUs / 1000, 1), busyPercent: round((busyUs / totalUs) * 100, 1),
    categories: top(cats, 20).filter(([c]) => c !== 'idle').map(([category, us]) => ({ category, ms: round(us / 1000, 1), shareOfBusy: round(us / busyUs, 3) })),
    selfTop: top(fns, 15).map(([fn, us]) => ({ fn, ms: round(us / 1000, 1) })),
    srcInclusive: top(inclusive, 20).map(([fn, us]) => ({ fn, ms: round(us / 1000, 1), shareOfBusy: round(us / busyUs, 3) })),
  };
}
