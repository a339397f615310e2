/**
 * A network namespace joined to this one by a veth pair, for tests that cut a node's traffic for
 * real (gossip and gRPC alike). Linux and root only (`ip` from iproute2); `available()` says.
 * Addresses are a private /30 on the pair itself: no traffic leaves this machine.
 */
import { execFileSync } from 'node:child_process';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class NetNs {
  readonly name: string;
  /** The address on this side of the pair (nodes outside the namespace listen here). */
  readonly hostAddress: string;
  /** The address inside the namespace. */
  readonly nsAddress: string;
  readonly #hostIf: string;
  readonly #nsIf: string;

  private constructor(tag: string, subnet: number) {
    this.name = `engram-${tag}`;
    this.#hostIf = `eh${tag}`.slice(0, 15);
    this.#nsIf = `en${tag}`.slice(0, 15);
    this.hostAddress = `10.213.${subnet}.1`;
    this.nsAddress = `10.213.${subnet}.2`;
  }

  /** Whether this process may create namespaces (root with iproute2). */
  static available(): boolean {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    try {
      ip('netns', 'list');
      return true;
    } catch {
      return false;
    }
  }

  static create(): NetNs {
    const tag = `${process.pid % 100000}`;
    const ns = new NetNs(tag, process.pid % 250);
    ns.destroy();
    ip('netns', 'add', ns.name);
    try {
      ip('link', 'add', ns.#hostIf, 'type', 'veth', 'peer', 'name', ns.#nsIf);
      ip('link', 'set', ns.#nsIf, 'netns', ns.name);
      ip('addr', 'add', `${ns.hostAddress}/30`, 'dev', ns.#hostIf);
      ip('link', 'set', ns.#hostIf, 'up');
      ip('netns', 'exec', ns.name, 'ip', 'addr', 'add', `${ns.nsAddress}/30`, 'dev', ns.#nsIf);
      ip('netns', 'exec', ns.name, 'ip', 'link', 'set', ns.#nsIf, 'up');
      ip('netns', 'exec', ns.name, 'ip', 'link', 'set', 'lo', 'up');
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  /** The prefix that runs a command inside the namespace (exec'd in place). */
  get runUnder(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Cuts every packet between the namespace and the rest: the link goes down. */
  cut(): void {
    ip('link', 'set', this.#hostIf, 'down');
  }

  heal(): void {
    ip('link', 'set', this.#hostIf, 'up');
  }

  /** Removes the namespace and the pair (idempotent). */
  destroy(): void {
    try {
      ip('link', 'del', this.#hostIf);
    } catch {
      // already gone (deleting the namespace deletes its end of the pair, and so the pair)
    }
    try {
      ip('netns', 'del', this.name);
    } catch {
      // not there
    }
  }
}

/**
 * Several nodes on one bridge, some of them each in a network namespace of its own: every node
 * listens on a bridge address (nodes outside a namespace share the bridge's own address), and
 * cutting a namespaced node takes its link to the bridge down — gossip and gRPC both stop.
 */
export class NetBridge {
  readonly #bridge: string;
  readonly #subnet: number;
  readonly #nodes = new Map<string, { ns: string; hostIf: string; address: string }>();

  private constructor(tag: string, subnet: number) {
    this.#bridge = `ebr${tag}`.slice(0, 15);
    this.#subnet = subnet;
  }

  /** The bridge's own address: where nodes outside any namespace listen. */
  get hostAddress(): string {
    return `10.214.${this.#subnet}.1`;
  }

  /** Calls from this process to the nodes come from the bridge's address. */
  get callerAddress(): string {
    return this.hostAddress;
  }

  /** A bridge with a namespace for each of `isolated` (node ids). */
  static create(isolated: string[]): NetBridge {
    const tag = `${process.pid % 100000}`;
    const b = new NetBridge(tag, process.pid % 250);
    b.destroy();
    try {
      ip('link', 'add', b.#bridge, 'type', 'bridge');
      ip('addr', 'add', `${b.hostAddress}/24`, 'dev', b.#bridge);
      ip('link', 'set', b.#bridge, 'up');
      isolated.forEach((id, i) => {
        const ns = `engram-${tag}-${id}`;
        const hostIf = `eh${tag}${i}`.slice(0, 15);
        const nsIf = `en${tag}${i}`.slice(0, 15);
        const address = `10.214.${b.#subnet}.${10 + i}`;
        b.#nodes.set(id, { ns, hostIf, address });
        ip('netns', 'add', ns);
        ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
        ip('link', 'set', nsIf, 'netns', ns);
        ip('link', 'set', hostIf, 'master', b.#bridge);
        ip('link', 'set', hostIf, 'up');
        ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', nsIf);
        ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      });
    } catch (err) {
      b.destroy();
      throw err;
    }
    return b;
  }

  /** Where node `id` listens. */
  hostFor(id: string): string {
    return this.#nodes.get(id)?.address ?? this.hostAddress;
  }

  /** The command prefix that puts node `id` in its namespace (none for the others). */
  runUnderFor(id: string): string[] | undefined {
    const n = this.#nodes.get(id);
    return n ? ['ip', 'netns', 'exec', n.ns] : undefined;
  }

  isolated(id: string): boolean {
    return this.#nodes.has(id);
  }

  cut(id: string): void {
    ip('link', 'set', this.#need(id).hostIf, 'down');
  }

  heal(id: string): void {
    ip('link', 'set', this.#need(id).hostIf, 'up');
  }

  #need(id: string) {
    const n = this.#nodes.get(id);
    if (!n) throw new Error(`node ${id} has no namespace to cut`);
    return n;
  }

  destroy(): void {
    for (const n of this.#nodes.values()) {
      try {
        ip('netns', 'del', n.ns);
      } catch {
        // gone
      }
    }
    try {
      ip('link', 'del', this.#bridge);
    } catch {
      // gone
    }
  }
}
