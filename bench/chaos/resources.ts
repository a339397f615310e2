/**
 * Resource snapshots: open file descriptors of a node process (`/proc/<pid>/fd`), its active
 * resources by type and used heap from its `/metrics`, and the active resources of this process.
 */
import { readdir } from 'node:fs/promises';
import http from 'node:http';

export interface NodeResources {
  node: string;
  pid: number;
  fds: number;
  /** `nodejs_active_resources{type=…}` (TCPSocketWrap, Timeout, UDPWrap, …). */
  activeResources: Record<string, number>;
  activeTotal: number;
  heapUsedBytes: number;
}

function scrape(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`http://${address}/metrics`, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`scrape of ${address} timed out`)));
    req.on('error', reject);
  });
}

export async function nodeResources(node: string, pid: number, metricsAddress: string): Promise<NodeResources> {
  // Scrape first: its own HTTP connection is closed again before the fds are counted.
  const text = await scrape(metricsAddress);
  await new Promise((r) => setImmediate(r));
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  const activeResources: Record<string, number> = {};
  let heapUsedBytes = NaN;
  for (const line of text.split('\n')) {
    const m = /^nodejs_active_resources\{([^}]*)\}\s+(\S+)/.exec(line);
    if (m) {
      const type = /type="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
      activeResources[type] = Number(m[2]);
    }
    const h = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (h) heapUsedBytes = Number(h[1]);
  }
  const activeTotal = Object.values(activeResources).reduce((a, b) => a + b, 0);
  return { node, pid, fds, activeResources, activeTotal, heapUsedBytes };
}

/** This process's active resources by type (`process.getActiveResourcesInfo()`). */
export function ownResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of process.getActiveResourcesInfo()) out[t] = (out[t] ?? 0) + 1;
  return out;
}

/** Types whose count grew from `before` to `after`, with both counts. */
export function grown(before: Record<string, number>, after: Record<string, number>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const t of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if ((after[t] ?? 0) > (before[t] ?? 0)) out[t] = [before[t] ?? 0, after[t] ?? 0];
  }
  return out;
}
