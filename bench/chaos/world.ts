/**
 * What the load and the fault schedule share: the cluster, one client per node (replaced when the
 * node restarts on new ports), which nodes the schedule has down or delayed and since when, the
 * node logs captured to files, and the node processes that exited without being killed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngramClient } from '../../src/client/engram-client.js';
import type { LocalCluster, LocalNode } from '../../src/cluster/local-cluster.js';

/** Deadline of a client call: far above every query deadline, so a hang shows as latency, not as a masked error. */
export const CLIENT_DEADLINE_MS = 20_000;

export interface FaultEvent {
  /** ms since the start of the load. */
  at: number;
  kind: 'kill9' | 'restart' | 'delay' | 'undelay' | 'cut' | 'uncut' | 'flap' | 'converged' | 'heal';
  node: string;
  detail?: string;
}

export interface FaultWindow { kind: string; node: string; start: number; end: number }

export interface Crash { node: string; pid: number; exit: number | string; at: number }

export class World {
  readonly t0 = performance.now();
  readonly clients = new Map<string, EngramClient>();
  /** Clients of a node's previous incarnation: closed at the end, calls in flight on them finish. */
  readonly retired: EngramClient[] = [];
  /** Nodes the schedule has killed and not yet restarted. */
  readonly down = new Set<string>();
  /** Injected delay per node, ms. */
  readonly delay = new Map<string, number>();
  /** Down intervals per node (end = Infinity while down). */
  readonly downSpans = new Map<string, { start: number; end: number }[]>();
  /** Delay intervals per node. */
  readonly delaySpans = new Map<string, { start: number; end: number; ms: number }[]>();
  /** When each node was cut off (no traffic in or out, with network namespaces). */
  readonly cutSpans = new Map<string, { start: number; end: number }[]>();
  readonly cut = new Set<string>();
  readonly events: FaultEvent[] = [];
  readonly windows: FaultWindow[] = [];
  readonly crashes: Crash[] = [];
  /** Nodes the schedule restarted at least once (left out of the resource comparison). */
  readonly restarted = new Set<string>();
  /** pids the schedule or the teardown killed on purpose. */
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

  ids(): string[] {
    return [...this.cluster.nodes.keys()].sort();
  }

  /** Nodes the schedule has up and reachable (a query or write goes to one of these). */
  upIds(): string[] {
    return this.ids().filter((id) => !this.down.has(id) && !this.cut.has(id));
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
    this.clients.set(node.id, new EngramClient({ nodes: [node.proc.grpcAddress], deadlineMs: CLIENT_DEADLINE_MS }));
    let log = this.#logs.get(node.id);
    if (!log) {
      log = createWriteStream(join(this.logDir, `${node.id}.log`), { flags: 'a' });
      this.#logs.set(node.id, log);
    }
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
    this.#span(this.downSpans, id).push({ start: this.now(), end: Infinity });
    this.event('kill9', id, `pid ${n.proc.pid}`);
    await n.proc.kill9();
  }

  async restart(id: string): Promise<void> {
    const n = await this.cluster.startNode(id);
    this.adopt(n);
    this.restarted.add(id);
    this.down.delete(id);
    const span = this.#span(this.downSpans, id).at(-1);
    if (span && span.end === Infinity) span.end = this.now();
    this.delay.delete(id);
    this.event('restart', id, `pid ${n.proc.pid} grpc ${n.proc.grpcAddress}`);
  }

  async setDelay(id: string, ms: number): Promise<void> {
    await this.cluster.setFault(id, { delayMs: ms });
    const spans = this.#span(this.delaySpans, id);
    const open = spans.at(-1);
    if (open && open.end === Infinity) open.end = this.now();
    if (ms > 0) spans.push({ start: this.now(), end: Infinity, ms });
    this.delay.set(id, ms);
    this.event(ms > 0 ? 'delay' : 'undelay', id, `${ms} ms`);
  }

  async setCut(id: string, cutOff: boolean): Promise<void> {
    // No new call goes to a node about to be cut; its span covers calls already on their way.
    if (cutOff) {
      this.cut.add(id);
      this.#span(this.cutSpans, id).push({ start: this.now(), end: Infinity });
    }
    await this.cluster.setFault(id, { cutOff, delayMs: this.delay.get(id) ?? 0 });
    if (!cutOff) {
      const span = this.#span(this.cutSpans, id).at(-1);
      if (span && span.end === Infinity) span.end = this.now();
      this.cut.delete(id);
    }
    this.event(cutOff ? 'cut' : 'uncut', id);
  }

  /** How long `id` was cut off within [from, to], ms: a client cannot reach it meanwhile. */
  cutDuring(id: string, from: number, to: number): number {
    let total = 0;
    for (const s of this.cutSpans.get(id) ?? []) total += Math.max(0, Math.min(s.end, to) - Math.max(s.start, from));
    return total;
  }

  /** The largest delay injected on `id` at any time in [from, to], ms. */
  delayDuring(id: string, from: number, to: number): number {
    let max = 0;
    for (const s of this.delaySpans.get(id) ?? []) if (s.start <= to && s.end >= from) max = Math.max(max, s.ms);
    return max;
  }

  /** Whether `id` was down (killed, not yet restarted) for the whole of [from, to]. */
  downThroughout(id: string, from: number, to: number): boolean {
    return (this.downSpans.get(id) ?? []).some((s) => s.start <= from && s.end >= to);
  }

  /** Whether any fault window overlaps [from, to]. */
  faulty(from: number, to: number): boolean {
    return this.windows.some((w) => w.start <= to && w.end >= from);
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

  #span<T>(map: Map<string, T[]>, id: string): T[] {
    let a = map.get(id);
    if (!a) map.set(id, (a = []));
    return a;
  }
}
