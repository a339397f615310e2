/** Human-readable rendering of CLI answers: aligned tables and a coverage line. */
import type { Coverage } from '../query/coverage.js';
import type { QueryResult } from '../query/result.js';

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(4);
}

function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function coverageLine(c: Coverage): string {
  const rounds = c.rounds !== undefined ? `, ${c.rounds} round${c.rounds === 1 ? '' : 's'}` : '';
  const head = `coverage: ${c.responding}/${c.expected} partitions answered, penalty ${c.penalty.toFixed(3)}${c.full ? ', full' : ', PARTIAL'}${c.partitioned ? ', partitioned' : ''}${rounds}`;
  const rows = c.partitions.map((p) => {
    // A Spread over several spaces: a partition no pulse reached was not asked.
    if (p.rounds === 0 && p.status === 'ok') return `  ${p.partition}: not reached, not asked`;
    const inRounds = p.rounds !== undefined ? `, ${p.rounds} round${p.rounds === 1 ? '' : 's'}` : '';
    return `  ${p.partition} @ ${p.node} (${p.role}): ${p.status}${p.reason ? ` — ${p.reason}` : ''}, ${p.latencyMs.toFixed(2)} ms${inRounds}${p.hedged ? ', hedged' : ''}`;
  });
  return [head, ...rows].join('\n');
}

/** Renders a query result the way the CLI prints it without --json. */
export function renderResult(r: QueryResult, maxRows = 20): string {
  let body: string;
  switch (r.kind) {
    case 'recall':
      body = table(
        ['#', 'id', 'space', 'lower', 'upper', 'similarity', 'content'],
        r.memories.map((m, i) => [i + 1, m.id, m.space, m.confidence.lower, m.confidence.upper, m.similarity, clip(m.content)]),
      );
      break;
    case 'spread': {
      const shown = r.activations.slice(0, maxRows);
      // A Spread over several spaces names each memory's space.
      body = r.coverage.rounds !== undefined
        ? table(['space', 'id', 'activation'], shown.map((a) => [a.space ?? '', a.id, a.activation]))
        : table(['id', 'activation'], shown.map((a) => [a.id, a.activation]));
      if (r.activations.length > shown.length) body += `\n… ${r.activations.length - shown.length} more activated memories`;
      break;
    }
    case 'complete': {
      const e = r.complete.embedding;
      body = `completed pattern: ${e.length} dimensions, confidence ${r.complete.confidence.toFixed(4)}\n` +
        `first values: [${Array.from(e.subarray(0, 6), (v) => v.toFixed(4)).join(', ')}${e.length > 6 ? ', …' : ''}]\n` +
        `filled from: ${r.complete.sources.join(', ')}`;
      break;
    }
    case 'consolidate': {
      const c = r.consolidate;
      body = table(['memories', 'patterns created', 'patterns total', 'memories in patterns', 'duration ms'], [
        [c.memories, c.patternsCreated, c.patternsTotal, c.memoriesInPatterns, c.durationMs],
      ]) + (c.stoppedEarly ? '\nstopped at the deadline before visiting every memory: run it again for the rest' : '');
      break;
    }
    case 'imagine':
      body = table(
        ['#', 'id', 'space', 'source', 'confidence', 'content'],
        r.items.map((m, i) => [i + 1, m.id, m.space, m.source, m.confidence, clip(m.content, 50)]),
      );
      break;
  }
  return `${body}\n${coverageLine(r.coverage)}`;
}
