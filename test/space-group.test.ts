/**
 * A space's copies as one Raft group (issue 12 groundwork): three in-process nodes, each an
 * Engine and a RaftHost on real files under os.tmpdir(); the test carries the Raft messages (no
 * network, no timer: "time" is tick rounds). Writes proposed on the leader reach every engine in
 * log order, byte for byte; a crashed follower and a crashed leader come back from disk without
 * applying anything twice and catch up; a write refused by validation never enters the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { InvalidArgumentError } from '../src/errors.js';
import { RaftHost } from '../src/raft/raft-host.js';
import { SpaceGroupStateMachine, spaceGroupId, spaceOfGroup } from '../src/cluster/space-group.js';
import { logPath } from '../src/storage/space-log.js';

process.env.ENGRAM_NATIVE = 'required';

const SPACE = 'notes';
const GROUP = spaceGroupId(SPACE);
const quiet = { warn: () => undefined };

interface Envelope { from: number; to: number; data: Uint8Array; snapshot: boolean }

class Copies {
  readonly hosts: (RaftHost | null)[] = [null, null, null];
  readonly engines: (Engine | null)[] = [null, null, null];
  readonly queue: Envelope[] = [];

  constructor(readonly dirs: string[]) {}

  async open(id: number, create: boolean): Promise<void> {
    const dir = this.dirs[id - 1]!;
    const engine = await Engine.open(join(dir, 'engine'), quiet);
    if (create) await engine.createSpace(SPACE, 4);
    const machine = new SpaceGroupStateMachine(engine);
    const host = await RaftHost.open(join(dir, 'node'), {
      groupOptions: { electionTicks: 10, heartbeatTicks: 1 },
      transport: { send: (_group, to, data, snapshot) => this.queue.push({ from: id, to, data, snapshot }) },
      stateMachine: { apply: (g, e) => machine.apply(g, e), applySnapshot: (g, s) => machine.applySnapshot(g, s) },
    });
    if (create) await host.createGroup(GROUP, id, [1, 2, 3]);
    this.engines[id - 1] = engine;
    this.hosts[id - 1] = host;
    await host.processReadies();
  }

  /** kill -9: the host and engine are dropped; only what they fsynced remains. */
  async crash(id: number): Promise<void> {
    const host = this.hosts[id - 1]!;
    const engine = this.engines[id - 1]!;
    this.hosts[id - 1] = null;
    this.engines[id - 1] = null;
    await host.store.close();
    await engine.close();
  }

  engine(id: number): Engine {
    const e = this.engines[id - 1];
    assert.ok(e, `node ${id} is up`);
    return e;
  }

  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      for (const h of this.hosts) await h?.processReadies();
      if (this.queue.length === 0) return;
      for (const m of this.queue.splice(0)) {
        const target = this.hosts[m.to - 1];
        if (!target) {
          this.hosts[m.from - 1]?.reportUnreachable(GROUP, m.to);
          continue;
        }
        target.step(GROUP, m.data);
      }
    }
    assert.fail('the group did not settle');
  }

  async tick(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      for (const h of this.hosts) h?.tick();
      await this.settle();
    }
  }

  async elect(except?: number): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const leader = this.hosts.findIndex((h, i) => h && i + 1 !== except && h.status(GROUP).role === 'leader');
      if (leader >= 0) return leader + 1;
      await this.tick(1);
    }
    assert.fail('no leader');
  }

  /** A write as a client would send it: validated and encoded on the leader, proposed, committed. */
  async write(leader: number, ids: string[]): Promise<void> {
    const payload = this.engine(leader).prepareStore(SPACE, { memories: ids.map((id, i) => ({ id, embedding: [1, i + 1, 0, 0], content: id })) });
    this.hosts[leader - 1]!.propose(GROUP, payload);
    await this.settle();
  }

  async logBytes(id: number): Promise<Buffer> {
    return readFile(logPath(join(this.dirs[id - 1]!, 'engine'), SPACE));
  }
}

async function copies(t: { after(fn: () => Promise<void>): void }): Promise<Copies> {
  const dirs = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmpdir(), 'engram-space-group-'))));
  const c = new Copies(dirs);
  t.after(async () => {
    for (let id = 1; id <= 3; id++) if (c.hosts[id - 1]) await c.crash(id);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  for (let id = 1; id <= 3; id++) await c.open(id, true);
  return c;
}

test('space group ids name their space and nothing else', () => {
  assert.equal(spaceGroupId('notes'), 'space/notes');
  assert.equal(spaceOfGroup('space/notes'), 'notes');
  assert.equal(spaceOfGroup('meta'), undefined);
  assert.equal(spaceOfGroup('space/../x'), undefined);
  assert.throws(() => spaceGroupId('No Such/Space'), InvalidArgumentError);
});

test('writes through the leader reach every copy in order, byte for byte', async (t) => {
  const c = await copies(t);
  const leader = await c.elect();
  for (let i = 0; i < 5; i++) await c.write(leader, [`a${i}`, `b${i}`]);
  const logs = await Promise.all([1, 2, 3].map((id) => c.logBytes(id)));
  assert.ok(logs[0]!.equals(logs[1]!) && logs[0]!.equals(logs[2]!), 'the three logs are the same bytes');
  for (let id = 1; id <= 3; id++) {
    const info = c.engine(id).spaceInfo(SPACE);
    assert.equal(info.memories, 10, `node ${id}`);
    assert.equal(info.logPosition, 6, `node ${id}: the header and 5 records`);
    assert.ok(c.engine(id).raftIndex(SPACE) > 0);
  }
  // A write the leader's engine refuses never becomes an entry.
  assert.throws(() => c.engine(leader).prepareStore(SPACE, { memories: [{ id: 'bad', embedding: [1, 2] }] }), InvalidArgumentError);
});

test('a crashed follower and then a crashed leader come back from disk, apply nothing twice and catch up', async (t) => {
  const c = await copies(t);
  let leader = await c.elect();
  await c.write(leader, ['x0']);
  const follower = [1, 2, 3].find((id) => id !== leader)!;
  await c.crash(follower);
  // Two of three commit without it.
  await c.write(leader, ['x1']);
  await c.write(leader, ['x2']);
  // It restarts: the group replays every committed entry it has from index 1, the engine skips
  // those it holds, and the leader sends the rest.
  await c.open(follower, false);
  await c.tick(3);
  assert.equal(c.engine(follower).spaceInfo(SPACE).memories, 3);
  assert.ok((await c.logBytes(follower)).equals(await c.logBytes(leader)), 'the returned follower holds the same log');

  const old = leader;
  await c.crash(old);
  leader = await c.elect(old);
  await c.write(leader, ['y0']);
  await c.open(old, false);
  await c.tick(3);
  for (let id = 1; id <= 3; id++) {
    const info = c.engine(id).spaceInfo(SPACE);
    assert.deepEqual([info.memories, info.logPosition], [4, 5], `node ${id}: 4 memories in 4 records after the header, none twice`);
  }
  const logs = await Promise.all([1, 2, 3].map((id) => c.logBytes(id)));
  assert.ok(logs[0]!.equals(logs[1]!) && logs[0]!.equals(logs[2]!));
});

test('an entry the engine cannot read is refused before anything is written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'engram-space-entry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const engine = await Engine.open(dir, quiet);
  t.after(() => engine.close());
  await engine.createSpace(SPACE, 4);
  const before = engine.spaceInfo(SPACE);
  await assert.rejects(engine.applyEntry(SPACE, 3, new TextEncoder().encode('{"type":"space","space":"notes","dimension":4}')), InvalidArgumentError);
  await assert.rejects(engine.applyEntry(SPACE, 0, engine.prepareStore(SPACE, { memories: [{ id: 'm', embedding: [1, 0, 0, 0] }] })), InvalidArgumentError);
  assert.deepEqual(engine.spaceInfo(SPACE), before);
  assert.deepEqual(await engine.applyEntry(SPACE, 7, engine.prepareStore(SPACE, { memories: [{ id: 'm', embedding: [1, 0, 0, 0] }] })), { applied: true, position: 2 });
  assert.deepEqual(await engine.applyEntry(SPACE, 7, engine.prepareStore(SPACE, { memories: [{ id: 'n', embedding: [1, 0, 0, 0] }] })), { applied: false, position: 2 }, 'index 7 is already in');
  assert.equal(engine.raftIndex(SPACE), 7);
});
