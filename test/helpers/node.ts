/** Real node processes for tests: temp data dirs, no fixed ports, everything stopped after. */
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess, type NodeProcessOptions } from '../../src/cluster/node-process.js';
import { EngramClient } from '../../src/client/engram-client.js';

export interface TestNode {
  proc: NodeProcess;
  client: EngramClient;
  dataDir: string;
}

/** Owns temp dirs, processes and clients of one test file; `cleanup()` releases all of them. */
export class NodeFixture {
  private readonly roots: string[] = [];
  private readonly procs: NodeProcess[] = [];
  private readonly clients: EngramClient[] = [];

  async tempDir(prefix = 'engram-test-'): Promise<string> {
    const dir = await mkdtemp(join(os.tmpdir(), prefix));
    this.roots.push(dir);
    return dir;
  }

  async start(id: string, dataDir?: string, extra: Partial<NodeProcessOptions> = {}): Promise<TestNode> {
    const dir = dataDir ?? join(await this.tempDir(), id);
    const proc = await startNodeProcess({ id, dataDir: dir, ...extra });
    this.procs.push(proc);
    const client = new EngramClient({ nodes: [proc.grpcAddress], deadlineMs: 20_000, routing: 'any' });
    this.clients.push(client);
    return { proc, client, dataDir: dir };
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.procs.map((p) => p.stop()));
    await Promise.all(this.roots.map((r) => rm(r, { recursive: true, force: true })));
  }
}

/** A deterministic unit-ish embedding of `dim` values. */
export function vec(dim: number, seed: number): number[] {
  const out: number[] = [];
  let x = seed * 2654435761;
  for (let i = 0; i < dim; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push((x / 2147483648) * 2 - 1);
  }
  return out;
}

/** An address nothing listens on: a port the kernel handed out and that was closed again. */
export async function deadAddress(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
