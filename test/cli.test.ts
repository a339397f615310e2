/** The `engram` CLI against a real node: every command, --json output, exit codes, help, version, environment. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeFixture, type TestNode } from './helpers/node.js';
import { sampleSpace, toJsonl } from '../src/demo/sample-data.js';
import { COMMANDS, GLOBAL_OPTIONS, QUERY_OPTIONS } from '../src/cli/options.js';
import { readFile } from 'node:fs/promises';
import { VERSION } from '../src/util/version.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

/** Runs the CLI with only `env` of the ENGRAM_* variables set. */
function engram(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENGRAM_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...base, ...env } }, (err, stdout, stderr) => {
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

  it('stores an association to another space from JSONL (toSpace) and spreads across both spaces', async () => {
    assert.equal((await engram(['--node', node, 'space', 'create', 'cli-across', '--dimension', '64'])).code, 0);
    const target = data.memories[0]!.id;
    const across = join(await fx.tempDir(), 'across.jsonl');
    await writeFile(across, [JSON.stringify({ id: 'bridge', text: 'a bridge between spaces' }), JSON.stringify({ from: 'bridge', to: target, toSpace: 'cli-space', weight: 1 })].join('\n') + '\n');
    const stored = await engram(['--node', node, 'store', 'cli-across', across]);
    assert.equal(stored.code, 0, stored.stderr);
    const json = await engram(['--node', node, '--json', 'spread', 'cli-across,cli-space', '--seeds', 'cli-across/bridge', '--hops', '1']);
    assert.equal(json.code, 0, json.stderr);
    const r = JSON.parse(json.stdout);
    assert.deepEqual(r.activations.slice(0, 2), [{ id: 'bridge', activation: 1, space: 'cli-across' }, { id: target, activation: Math.fround(0.85), space: 'cli-space' }]);
    assert.equal(r.coverage.rounds, 2);
    const text = await engram(['--node', node, 'spread', 'cli-across,cli-space', '--seeds', 'cli-across/bridge', '--hops', '1']);
    assert.match(text.stdout, /^space +id +activation$/m);
    assert.match(text.stdout, /^cli-space +\S+ +0\.8500$/m);
    assert.match(text.stdout, /penalty 0\.000, full, 2 rounds/);
    // Every space of the node: the same answer (no other space is reached).
    const all = JSON.parse((await engram(['--node', node, '--json', 'spread', '--all-spaces', '--seeds', 'cli-across/bridge', '--hops', '1'])).stdout);
    assert.deepEqual(all.activations, r.activations);
    // SPACE and --all-spaces together, or a seed without its space: refused.
    assert.equal((await engram(['--node', node, 'spread', 'cli-space', '--all-spaces', '--seeds', 'cli-space/x'])).code, 2);
    const bare = await engram(['--node', node, 'spread', 'cli-across,cli-space', '--seeds', 'bridge']);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /seeds\[0\].*SPACE\/ID/);
  });

  it('exits 1 with the node\'s message for an unknown space', async () => {
    const r = await engram(['--node', node, 'recall', 'nowhere', '--text', 'x']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'engram: NOT_FOUND ERR_SPACE_NOT_FOUND: memory space "nowhere" does not exist');
    const json = await engram(['--node', node, '--json', 'recall', 'nowhere', '--text', 'x']);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stderr), { error: 'NOT_FOUND', code: 'ERR_SPACE_NOT_FOUND', message: 'memory space "nowhere" does not exist' });
  });

  it('exits 2 on bad usage', async () => {
    assert.equal((await engram(['--node', node, 'frobnicate'])).code, 2);
    assert.equal((await engram(['--node', node, 'recall', 'cli-space'])).code, 2);
    assert.equal((await engram(['--node', node, 'recall', 'cli-space', '--text', 'x', '--limit', 'many'])).code, 2);
    assert.equal((await engram(['--bogus-flag'])).code, 2);
    // An option of another command is a mistake, not something to ignore.
    const foreign = await engram(['--node', node, 'recall', 'cli-space', '--text', 'x', '--dimension', '3']);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /recall takes no --dimension/);
    assert.equal((await engram(['--node', node, '--deadline-ms', 'soon', 'status'])).code, 2);
    assert.equal((await engram([])).code, 2);
  });

  it('prints its version', async () => {
    const r = await engram(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
    // The package's own version, as npm and the registry know it.
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });

  it('--help lists every command and every option with its environment variable', async () => {
    const r = await engram(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} `, 'm'), c.name);
    for (const o of [...GLOBAL_OPTIONS, ...QUERY_OPTIONS]) {
      const line = r.stdout.split('\n').find((l) => new RegExp(`^\\s+(-\\w, )?--${o.name}(\\s|$)`).test(l));
      assert.ok(line, `--${o.name} is not in the help`);
      if (o.env) assert.ok(line.includes(`$${o.env}`), `--${o.name} does not name $${o.env}: ${line}`);
    }
    for (const name of ['node', 'deadline-ms', 'tls-ca', 'tls-cert', 'tls-key', 'timeout-ms']) {
      assert.ok([...GLOBAL_OPTIONS, ...QUERY_OPTIONS].find((o) => o.name === name)?.env?.startsWith('ENGRAM_'), `--${name} has an environment variable`);
    }
  });

  it('<command> --help describes each command with all of its options', async () => {
    for (const c of COMMANDS) {
      const r = await engram([...c.name.split(' '), '--help']);
      assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: engram \\[options\\] ${c.name}`), c.name);
      const options = [...c.options, ...(c.query ? QUERY_OPTIONS : []), ...GLOBAL_OPTIONS];
      for (const o of options) {
        const line = r.stdout.split('\n').find((l) => new RegExp(`^\\s+(-\\w, )?--${o.name}(\\s|$)`).test(l));
        assert.ok(line, `${c.name} --help lacks --${o.name}`);
        if (o.env) assert.ok(line.includes(`$${o.env}`), `${c.name} --help: --${o.name} does not name $${o.env}`);
      }
      if (!c.query) assert.doesNotMatch(r.stdout, /--timeout-ms/, c.name);
    }
  });

  it('takes its options from ENGRAM_* variables, the flag winning', async () => {
    const dead = '127.0.0.1:1';
    // A node list: the dead node first, the live one answers.
    const viaEnv = await engram(['status'], { ENGRAM_NODE: `${dead},${node}`, ENGRAM_JSON: '1', ENGRAM_DEADLINE_MS: '10000' });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(JSON.parse(viaEnv.stdout).nodeId, 'cli');
    const flagWins = await engram(['--node', node, 'status'], { ENGRAM_NODE: dead, ENGRAM_JSON: 'false' });
    assert.equal(flagWins.code, 0, flagWins.stderr);
    assert.match(flagWins.stdout, /^node cli at /);
    assert.equal((await engram(['status'], { ENGRAM_NODE: node, ENGRAM_JSON: 'perhaps' })).code, 2);
    assert.equal((await engram(['status'], { ENGRAM_NODE: node, ENGRAM_DEADLINE_MS: 'soon' })).code, 2);
    const tls = await engram(['status'], { ENGRAM_NODE: node, ENGRAM_TLS_CA: join(await fx.tempDir(), 'missing-ca.pem') });
    assert.equal(tls.code, 2);
    assert.match(tls.stderr, /--tls-ca: cannot read .*missing-ca\.pem/);
    // Query options too.
    const bad = await engram(['recall', 'cli-space', '--text', 'x'], { ENGRAM_NODE: node, ENGRAM_TIMEOUT_MS: 'later' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout-ms must be an integer \(got "later"\)/);
    const strict = await engram(['recall', 'cli-space', '--text', 'x'], { ENGRAM_NODE: node, ENGRAM_NO_PARTIAL: 'yes', ENGRAM_MIN_COVERAGE: '1' });
    assert.equal(strict.code, 0, strict.stderr);
  });

  it('a per-call deadline from --deadline-ms', async () => {
    // The deadline covers every node tried: with none listening, the answer is that none was reached.
    const r = await engram(['--node', '127.0.0.1:1,127.0.0.1:2', '--deadline-ms', '2000', 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /UNAVAILABLE ERR_NODE_UNAVAILABLE: no node could be reached \(tried 127\.0\.0\.1:1, 127\.0\.0\.1:2\)/);
  });

  it('exits 1 when no node answers', async () => {
    const r = await engram(['--node', '127.0.0.1:1', 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /UNAVAILABLE|DEADLINE/);
  });
});
