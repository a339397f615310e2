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
