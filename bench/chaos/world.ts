/**
 * What the load and the nemesis share: the cluster, one client per node (replaced when the node
 * restarts on new ports), which nodes are down, cut or gone for good, the node logs captured to
 * files, the fault log, and the node processes that exited without being stopped on purpose.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngramClient } from '../../src/client/engram-client.js';
import type { LocalCluster, LocalNode } from '../../src/cluster/local-cluster.js';

/** Deadline of a client call that sets none (status polls, reads of a copy), ms. */
export const CLIENT_DEADLINE_MS = 10_000;

export interface FaultEvent {
  /** ms since the run started. */
  at: number;
  kind: 'kill9' | 'start' | 'stop' | 'wipe' | 'cut' | 'uncut' | 'add' | 'remove' | 'nemesis' | 'settled' | 'heal';
  node: string;
  detail?: string;
}

/** One nemesis from injection until the cluster settled after its heal. */
export interface FaultWindow { kind: string; node: string; start: number; healed: number; end: number }

export interface Crash { node: string; pid: number; exit: number | string; at: number }

export class World {
  readonly t0 = performance.now();
  readonly clients = new Map<string, EngramClient>();
  /** Clients of a node's previous incarnation: closed at the end, calls in flight on them finish. */
  readonly retired: EngramClient[] = [];
  /** Nodes killed or stopped and not yet started again. */
  readonly down = new Set<string>();
  /** Nodes removed for good (never started again; not in the settled cluster). */
  readonly gone = new Set<string>();
  readonly cut = new Set<string>();
  readonly events: FaultEvent[] = [];
  readonly windows: FaultWindow[] = [];
  readonly crashes: Crash[] = [];
  readonly #expectedExit = new Set<number>();
  readonly #logs = new Map<string, WriteStream>();
  errorLogLines = 0;

  constructor(
    readonly cluster: LocalCluster,
    readonly logDir: string,
  ) {}

  now(): number {
    return performance.now() - this.t0;
  }

  /** Every node ever started and not removed for good. */
  ids(): string[] {
    return [...this.cluster.nodes.keys()].filter((id) => !this.gone.has(id)).sort();
  }

  /** Nodes running now (cut ones included: a client next to a cut node still calls it). */
  upIds(): string[] {
    return this.ids().filter((id) => !this.down.has(id));
  }

  client(id: string): EngramClient {
    const c = this.clients.get(id);
    if (!c) throw new Error(`no client for ${id}`);
    return c;
  }

  /** Call after the cluster started a node (first start or restart): new client, crash watch, log capture. */
  adopt(node: LocalNode): void {
    const old = this.clients.get(node.id);
    if (old) this.retired.push(old);
    this.clients.set(node.id, new EngramClient({ nodes: [node.proc.grpcAddress], deadlineMs: CLIENT_DEADLINE_MS, routing: 'any' }));
    let log = this.#logs.get(node.id);
    if (!log) this.#logs.set(node.id, (log = createWriteStream(join(this.logDir, `${node.id}.log`), { flags: 'a' })));
    const out = log;
    // readline already reads this pipe; a second 'data' listener sees the same chunks.
    node.proc.child.stderr?.on('data', (chunk: Buffer) => {
      out.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) if (line.includes('"level":"error"')) this.errorLogLines++;
    });
    const pid = node.proc.pid;
    void node.proc.exited.then((exit) => {
      if (!this.#expectedExit.has(pid)) this.crashes.push({ node: node.id, pid, exit, at: this.now() });
    });
  }

  async kill9(id: string): Promise<void> {
    const n = this.cluster.node(id);
    this.#expectedExit.add(n.proc.pid);
    this.down.add(id);
    this.event('kill9', id, `pid ${n.proc.pid}`);
    await n.proc.kill9();
  }

  /** SIGTERM: the node leaves gracefully (hands its leaderships over first). */
  async stop(id: string): Promise<void> {
    const n = this.cluster.node(id);
    this.#expectedExit.add(n.proc.pid);
    this.down.add(id);
    this.event('stop', id, `pid ${n.proc.pid}`);
    await n.proc.stop(10_000);
  }

  /** Starts `id` (again, on its data directory if it has one), seeded from the running nodes. */
  async start(id: string, extraArgs: string[] = []): Promise<void> {
    const n = await this.cluster.startNode(id, { extraArgs });
    this.adopt(n);
    this.down.delete(id);
    this.event('start', id, `pid ${n.proc.pid} grpc ${n.proc.grpcAddress}`);
  }

  /** kill -9, the data directory removed, started again: it comes back as a new, empty copy. */
  async wipe(id: string): Promise<void> {
    await this.kill9(id);
    await rm(this.cluster.node(id).dataDir, { recursive: true, force: true });
    this.event('wipe', id, this.cluster.node(id).dataDir);
    await this.start(id);
  }

  /** kill -9, never started again: its copies must be re-made elsewhere (`--reassign-after`). */
  async remove(id: string): Promise<void> {
    await this.kill9(id);
    this.gone.add(id);
    this.event('remove', id);
  }

  async setCut(id: string, cutOff: boolean): Promise<void> {
    await this.cluster.setFault(id, { cutOff });
    if (cutOff) this.cut.add(id);
    else this.cut.delete(id);
    this.event(cutOff ? 'cut' : 'uncut', id);
  }

  event(kind: FaultEvent['kind'], node: string, detail?: string): void {
    this.events.push({ at: Math.round(this.now()), kind, node, ...(detail ? { detail } : {}) });
  }

  /** Every node process from now on exits on purpose (teardown). */
  expectAllExits(): void {
    for (const n of this.cluster.nodes.values()) this.#expectedExit.add(n.proc.pid);
  }

  async closeLogs(): Promise<void> {
    await Promise.all([...this.#logs.values()].map((s) => new Promise<void>((r) => s.end(() => r()))));
  }

  closeClients(): void {
    for (const c of [...this.clients.values(), ...this.retired]) c.close();
  }
}
