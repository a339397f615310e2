/**
 * The package's layering, read from the sources: lower layers never reach up into the reference
 * node (`src/node/` is the composition root; only the demo and the public index sit above
 * it), and no value import forms a cycle (a cycle makes load order, not code, decide what a module
 * sees at start).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(REPO, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Value imports (and re-exports) of one file, as repo-relative .ts paths; `import type` is left out. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'(\.[^']+)\.js'/gm)) {
    if (m[1]) continue;
    out.push(relative(REPO, normalize(join(dirname(file), `${m[2]}.ts`))));
  }
  return out;
}

const graph = new Map(sources(SRC).map((f) => [relative(REPO, f), imports(f)]));

describe('layering', () => {
  it('reads the sources it checks', () => {
    assert.ok(graph.size > 50, `only ${graph.size} files found under src/`);
    assert.ok(graph.get(join('src', 'node', 'engram-node.ts'))!.length > 5);
  });

  it('nothing below the node imports src/node/', () => {
    const above = [join('src', 'node'), join('src', 'demo'), join('src', 'index.ts')];
    const offenders = [...graph]
      .filter(([file]) => !above.some((dir) => file.startsWith(dir)))
      .flatMap(([file, deps]) => deps.filter((d) => d.startsWith(join('src', 'node'))).map((d) => `${file} → ${d}`));
    assert.deepEqual(offenders, []);
  });

  it('no value import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep].join(' → '));
        else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });
});
