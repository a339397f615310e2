/** `npm start`'s main job runs end to end: every query type answered, the cluster stopped, the temp data gone. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEMO = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'demo', 'main.js');

describe('demo (npm start)', () => {
  it('runs every query type through the CLI and cleans up', async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(process.execPath, [DEMO], { encoding: 'utf8', timeout: 120_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${out}\n${errOut}`)) : resolve({ stdout: out }),
      ),
    );
    for (const command of ['recall', 'spread', 'complete', 'consolidate', 'imagine', 'status']) {
      assert.match(stdout, new RegExp(`\\$ engram --node \\S+ ${command}`), command);
    }
    assert.match(stdout, /stored 2000 memories/);
    // Through a node without a copy, before the kill: every answer full.
    assert.equal(stdout.match(/coverage: \d+\/\d+ partitions answered, penalty 0\.000, full/g)?.length, 8);
    // The Spread across the three spaces: its rows name their space, the rounds are counted, and
    // it reached memories of all three spaces from seeds in two.
    const across = stdout.slice(stdout.indexOf('spread journal,kitchen,summits'));
    assert.match(across, /^space +id +activation$/m);
    assert.match(across, /penalty 0\.000, full, [2-4] rounds\n/);
    for (const space of ['journal', 'kitchen', 'summits']) assert.match(across.slice(0, across.indexOf('coverage:')), new RegExp(`^${space} `, 'm'), space);
    // n3 answers journal from its own copy (a replica: n1 leads it).
    assert.match(stdout, /journal @ n3 \(replica\): ok/);
    assert.match(stdout, /kitchen @ n[12] \((primary|replica)\): ok/);
    assert.match(stdout, /n1 +alive[\s\S]*n2 +alive[\s\S]*n3 +alive/);
    // After kill -9 of n1, journal's leader: a write through n3 is taken by the new leader, a
    // copy answers, and the space without a copy weakens the Imagine.
    assert.match(stdout, /journal's Raft group is led by n1/);
    const after = stdout.slice(stdout.indexOf('$ kill -9 n1'));
    assert.match(after, /\$ engram --node \S+ store journal \S+journal-late\.jsonl\n.*stored 3 memories/);
    assert.match(after, /journal's new leader: n[23] \(term \d+\); the write above went through it/);
    // n3 answers from its own copy, as a follower or as the new leader (the table's primary).
    assert.match(after, /journal @ n3 \((primary|replica)\): ok/);
    assert.match(after, /coverage: 2\/3 partitions answered, penalty 0\.333, PARTIAL/);
    assert.match(after, /summits @ n1 \(primary\): unavailable — no live copy: n1 is down/);
    // The same Spread across the spaces, summits down: a weaker answer with no summits memory.
    const acrossAfter = after.slice(after.indexOf('spread journal,kitchen,summits'));
    assert.match(acrossAfter, /coverage: 2\/3 partitions answered, penalty 0\.333, PARTIAL, [2-4] rounds/);
    assert.doesNotMatch(acrossAfter.slice(0, acrossAfter.indexOf('coverage:')), /^summits /m);
    const dir = /node n1: .*, data (\S+)\/n1\n/.exec(stdout)?.[1];
    assert.ok(dir && !existsSync(dir), `temporary data left at ${dir}`);
  });
});
