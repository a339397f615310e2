/** The `engram` CLI against a real node: every command, --json output, exit codes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeFixture, type TestNode } from './helpers/node.js';
import { sampleSpace, toJsonl } from '../src/demo/sample-data.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function engram(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('engram CLI', () => {
  const fx = new NodeFixture();
  let n: TestNode;
  let node: string;
  let file: string;
  const data = sampleSpace(['astronomy', 'music'], 200, 3);

  before(async () => {
    n = await fx.start('cli');
    node = n.proc.grpcAddress;
    file = join(await fx.tempDir(), 'sample.jsonl');
    await writeFile(file, toJsonl(data));
  });
  after(() => fx.cleanup());

  it('creates a space and stores a JSONL file', async () => {
    const created = await engram(['--node', node, '--json', 'space', 'create', 'cli-space', '--dimension', '64']);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout), { space: 'cli-space', dimension: 64, created: true, primary: 'cli', replicas: [] });
    const stored = await engram(['--node', node, '--json', 'store', 'cli-space', file, '--batch', '50']);
    assert.equal(stored.code, 0, stored.stderr);
    const out = JSON.parse(stored.stdout);
    assert.equal(out.memories, 200);
    assert.equal(out.associations, data.associations.length);
  });

  it('runs every query type, in JSON and as a table', async () => {
    const recall = await engram(['--node', node, '--json', 'recall', 'cli-space', '--text', data.memories[5]!.text, '--limit', '3']);
    assert.equal(recall.code, 0, recall.stderr);
    const r = JSON.parse(recall.stdout);
    assert.equal(r.kind, 'recall');
    assert.equal(r.memories.length, 3);
    assert.equal(r.coverage.full, true);
    assert.equal(r.coverage.penalty, 0);
    // Ranked by confidence lower bound (similarity-scaled), best first.
    for (let i = 1; i < r.memories.length; i++) assert.ok(r.memories[i - 1].confidence.lower >= r.memories[i].confidence.lower);
    const all = JSON.parse((await engram(['--node', node, '--json', 'recall', 'cli-space', '--text', data.memories[5]!.text, '--limit', '200'])).stdout);
    // The stored text itself matches its own embedding exactly.
    const self = all.memories.find((m: { id: string }) => m.id === data.memories[5]!.id);
    assert.ok(self && self.similarity > 0.999, JSON.stringify(self));

    const spread = await engram(['--node', node, '--json', 'spread', 'cli-space', '--seeds', data.memories[0]!.id]);
    assert.equal(spread.code, 0, spread.stderr);
    const s = JSON.parse(spread.stdout);
    assert.equal(s.activations[0].id, data.memories[0]!.id);
    assert.equal(s.activations[0].activation, 1);

    for (const args of [
      ['complete', 'cli-space', '--text', 'violin melody', '--known-fraction', '0.5'],
      ['consolidate', 'cli-space', '--threshold', '0.95'],
      ['imagine', 'cli-space', '--text', 'comet and galaxy', '--limit', '2'],
      ['status'],
    ]) {
      const json = await engram(['--node', node, '--json', ...args]);
      assert.equal(json.code, 0, `${args[0]}: ${json.stderr}`);
      JSON.parse(json.stdout);
      const text = await engram(['--node', node, ...args]);
      assert.equal(text.code, 0, `${args[0]}: ${text.stderr}`);
      assert.ok(text.stdout.length > 0);
    }
    const table = await engram(['--node', node, 'recall', 'cli-space', '--text', 'galaxy', '--limit', '2']);
    assert.match(table.stdout, /coverage: 1\/1 partitions answered, penalty 0\.000, full/);
  });

  it('exits 1 with the node\'s message for an unknown space', async () => {
    const r = await engram(['--node', node, 'recall', 'nowhere', '--text', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NOT_FOUND.*nowhere/);
  });

  it('exits 2 on bad usage', async () => {
    assert.equal((await engram(['--node', node, 'frobnicate'])).code, 2);
    assert.equal((await engram(['--node', node, 'recall', 'cli-space'])).code, 2);
    assert.equal((await engram(['--node', node, 'recall', 'cli-space', '--text', 'x', '--limit', 'many'])).code, 2);
    assert.equal((await engram(['--bogus-flag'])).code, 2);
  });

  it('exits 1 when no node answers', async () => {
    const r = await engram(['--node', '127.0.0.1:1', 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /UNAVAILABLE|DEADLINE/);
  });
});
