/**
 * Three in-process nodes, each a RaftHost (the addon's RaftGroups + a RaftStore on real files
 * under os.tmpdir()); the test carries the messages, so there is no network and no timer:
 * "time" is `tick()` rounds. A crash drops a host without closing it cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftError, RAFT_CODES } from '../src/raft/raft-errors.js';
import { RaftHost } from '../src/raft/raft-host.js';
import { groupDirName } from '../src/raft/raft-store.js';
import { nativeBinding } from '../src/native/binding.js';
import type { RaftCommittedEntry } from '../src/raft/raft-native-types.js';

process.env.ENGRAM_NATIVE = 'required';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

interface Envelope {
  group: string;
  from: number;
  to: number;
  data: Uint8Array;
  snapshot: boolean;
}

/** Each node's state machine: group → applied payloads by index (conf changes and no-ops left out). */
type Applied = Map<string, Map<number, string>>;

class Cluster {
  readonly hosts: (RaftHost | null)[];
  readonly applied: Applied[];
  readonly queue: Envelope[] = [];
  readonly warnings: string[] = [];
  snapshotsInstalled = 0;

  constructor(readonly dirs: string[]) {
    this.hosts = dirs.map(() => null);
    this.applied = dirs.map(() => new Map());
  }

  static async start(t: { after(fn: () => Promise<void>): void }, n: number, groups: string[]): Promise<Cluster> {
    const dirs = await Promise.all(Array.from({ length: n }, () => mkdtemp(join(tmpdir(), 'engram-raft-'))));
    const c = new Cluster(dirs);
    t.after(async () => {
      for (const h of c.hosts) await h?.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    });
    for (let id = 1; id <= n; id++) {
      await c.open(id);
      const voters = Array.from({ length: n }, (_, i) => i + 1);
      for (const g of groups) await c.host(id).createGroup(g, id, voters);
    }
    return c;
  }

  host(id: number): RaftHost {
    const h = this.hosts[id - 1];
    assert.ok(h, `node ${id} is up`);
    return h;
  }

  async open(id: number): Promise<void> {
    const state = new Map<string, Map<number, string>>();
    this.applied[id - 1] = state;
    this.hosts[id - 1] = await RaftHost.open(this.dirs[id - 1]!, {
      groupOptions: { electionTicks: 10, heartbeatTicks: 1 },
      warn: (m) => this.warnings.push(m),
      transport: { send: (group, to, data, snapshot) => this.queue.push({ group, from: id, to, data, snapshot }) },
      stateMachine: {
        applySnapshot: (group, s) => {
          this.snapshotsInstalled++;
          state.set(group, new Map(JSON.parse(text(s.data)) as [number, string][]));
        },
        apply: (group, e: RaftCommittedEntry) => {
          const m = state.get(group) ?? new Map<number, string>();
          state.set(group, m);
          if (!e.confChange && e.data.byteLength > 0) m.set(e.index, text(e.data));
        },
      },
    });
  }

  /** kill -9: the host is dropped, only what it fsynced remains. */
  async crash(id: number): Promise<void> {
    const h = this.host(id);
    this.hosts[id - 1] = null;
    // Release the file handles; nothing is flushed that was not already synced.
    await h.store.close();
  }

  /** Delivers every queued message and handles every Ready until the cluster is quiet. */
  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      for (const h of this.hosts) await h?.processReadies();
      if (this.queue.length === 0) return;
      for (const m of this.queue.splice(0)) {
        const target = this.hosts[m.to - 1];
        const sender = this.hosts[m.from - 1];
        if (!target) {
          sender?.reportUnreachable(m.group, m.to);
          if (m.snapshot) sender?.reportSnapshot(m.group, m.to, false);
          continue;
        }
        target.step(m.group, m.data);
      }
    }
    assert.fail('the cluster did not settle');
  }

  async tick(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      for (const h of this.hosts) assert.deepEqual(h?.tick() ?? [], []);
      await this.settle();
    }
  }

  leader(group: string): number | null {
    let best: { term: number; id: number } | null = null;
    this.hosts.forEach((h, i) => {
      if (!h) return;
      const s = h.status(group);
      if (s.role === 'leader' && (!best || s.term > best.term)) best = { term: s.term, id: i + 1 };
    });
    return (best as { id: number } | null)?.id ?? null;
  }

  async elect(group: string, except?: number): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const l = this.leader(group);
      if (l !== null && l !== except) return l;
      await this.tick(1);
    }
    assert.fail(`no leader for ${group}`);
  }

  values(id: number, group: string): string[] {
    return [...(this.applied[id - 1]!.get(group) ?? new Map()).entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }
}

test('three nodes commit in several groups, and the groups stay independent', async (t) => {
  const c = await Cluster.start(t, 3, ['meta', 'space-a', 'space-b']);
  for (const g of ['meta', 'space-a', 'space-b']) {
    const leader = await c.elect(g);
    for (let i = 0; i < 3; i++) c.host(leader).propose(g, bytes(`${g}:${i}`));
    await c.settle();
  }
  for (let id = 1; id <= 3; id++) {
    for (const g of ['meta', 'space-a', 'space-b']) assert.deepEqual(c.values(id, g), [`${g}:0`, `${g}:1`, `${g}:2`], `node ${id} ${g}`);
  }
});

test('a crashed leader is replaced; restarted from disk it has every committed entry', async (t) => {
  const c = await Cluster.start(t, 3, ['g']);
  const old = await c.elect('g');
  for (let i = 0; i < 5; i++) c.host(old).propose('g', bytes(`before:${i}`));
  await c.settle();
  await c.crash(old);
  const leader = await c.elect('g', old);
  assert.notEqual(leader, old);
  for (let i = 0; i < 5; i++) c.host(leader).propose('g', bytes(`after:${i}`));
  await c.settle();

  await c.open(old);
  await c.settle(); // replays the committed entries from its disk
  const before = Array.from({ length: 5 }, (_, i) => `before:${i}`);
  assert.deepEqual(c.values(old, 'g').slice(0, 5), before, 'its own committed entries came back from disk');
  await c.tick(3);
  for (let id = 1; id <= 3; id++) assert.deepEqual(c.values(id, 'g'), [...before, ...Array.from({ length: 5 }, (_, i) => `after:${i}`)]);
});

test('a torn last frame on disk is dropped and the node still rejoins', async (t) => {
  const c = await Cluster.start(t, 3, ['g']);
  const leader = await c.elect('g');
  const follower = leader === 1 ? 2 : 1;
  for (let i = 0; i < 4; i++) {
    c.host(leader).propose('g', bytes(`v${i}`));
    await c.settle();
  }
  await c.crash(follower);
  // The follower's last write only half reached the disk.
  const log = join(c.dirs[follower - 1]!, 'raft', groupDirName('g'), 'log');
  const bytesOnDisk = await readFile(log);
  await writeFile(log, bytesOnDisk.subarray(0, bytesOnDisk.byteLength - 5));
  await c.open(follower);
  assert.equal(c.warnings.filter((w) => w.includes('torn tail cut')).length, 1);
  c.host(leader).propose('g', bytes('v4'));
  await c.tick(3);
  for (let id = 1; id <= 3; id++) assert.deepEqual(c.values(id, 'g'), ['v0', 'v1', 'v2', 'v3', 'v4'], `node ${id}`);
});

test('after compaction a far-behind node installs the snapshot, and a compacted node restarts from it', async (t) => {
  const c = await Cluster.start(t, 3, ['g']);
  const leader = await c.elect('g');
  const behind = leader === 3 ? 2 : 3;
  await c.crash(behind);
  for (let i = 0; i < 10; i++) c.host(leader).propose('g', bytes(`s${i}`));
  await c.settle();
  for (let id = 1; id <= 3; id++) {
    if (id === behind) continue;
    const h = c.host(id);
    const applied = h.status('g').applied;
    await h.compact('g', applied, bytes(JSON.stringify([...c.applied[id - 1]!.get('g')!.entries()])));
    assert.equal(h.status('g').snapshotIndex, applied);
  }
  const installedBefore = c.snapshotsInstalled;
  await c.open(behind);
  await c.tick(5);
  assert.ok(c.snapshotsInstalled > installedBefore, 'the behind node got the snapshot');
  assert.ok(c.host(behind).status('g').snapshotIndex > 0);
  const all = Array.from({ length: 10 }, (_, i) => `s${i}`);
  assert.deepEqual(c.values(behind, 'g'), all);

  await c.crash(leader);
  await c.open(leader);
  assert.deepEqual(c.values(leader, 'g'), all, 'loaded from its snapshot file');
  c.host(await c.elect('g')).propose('g', bytes('s10'));
  await c.tick(3);
  for (let id = 1; id <= 3; id++) assert.deepEqual(c.values(id, 'g'), [...all, 's10']);
});

test('refusals carry stable codes', async (t) => {
  const c = await Cluster.start(t, 1, ['solo']);
  const h = c.host(1);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof RaftError);
      return e.code;
    }
    assert.fail('did not throw');
  };
  assert.equal(code(() => h.propose('nope', bytes('x'))), RAFT_CODES.NO_GROUP);
  assert.equal(code(() => h.propose('solo', bytes('x'))), RAFT_CODES.PROPOSAL_DROPPED, 'no leader yet');
  assert.equal(code(() => h.transferLeader('solo', -1)), RAFT_CODES.INVALID);
  assert.equal(code(() => h.proposeConfChange('solo', [{ kind: 'promote', node: 2 }])), RAFT_CODES.INVALID);
  await assert.rejects(h.createGroup('solo', 1, [1]), (e: unknown) => e instanceof RaftError && e.code === RAFT_CODES.GROUP_EXISTS);
  assert.throws(() => h.step('solo', bytes('garbage!')), (e: unknown) => e instanceof RaftError && e.code === RAFT_CODES.DECODE);
  // Options are checked, not wrapped, truncated or defaulted: -1, 2.5 and an explicit 0 are refused.
  const native = nativeBinding()!;
  for (const bad of [{ electionTicks: -1 }, { maxInflightMsgs: -1 }, { heartbeatTicks: 2.5 }, { electionTicks: 0 }]) {
    assert.throws(() => new native.RaftGroups().create('x', 1, [1], [], bad), (e: unknown) => (e as { code?: string }).code === RAFT_CODES.INVALID, JSON.stringify(bad));
  }
  // A single voter elects itself and commits alone.
  const leader = await c.elect('solo');
  assert.equal(leader, 1);
  h.propose('solo', bytes('alone'));
  await c.settle();
  assert.deepEqual(c.values(1, 'solo'), ['alone']);
});
