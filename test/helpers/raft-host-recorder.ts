/** Test doubles for the Raft transport's tests: a host that records what it is handed, and a polling wait. */
import assert from 'node:assert/strict';
import type { RaftTransportHost } from '../../src/cluster/raft-transport-wire.js';

/** Polls `cond` every 5 ms until it holds, or fails naming `what` after `timeoutMs`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A host that records what the transport hands it. */
export class RecordingHost implements RaftTransportHost {
  readonly steps: string[] = [];
  readonly unreachable: string[] = [];
  readonly snapshots: string[] = [];
  step(group: string, data: Uint8Array) {
    this.steps.push(`${group}:${Buffer.from(data).toString()}`);
    return null;
  }
  reportUnreachable(group: string, peer: number): void {
    this.unreachable.push(`${group}/${peer}`);
  }
  reportSnapshot(group: string, peer: number, delivered: boolean): void {
    this.snapshots.push(`${group}/${peer}/${delivered}`);
  }
}
