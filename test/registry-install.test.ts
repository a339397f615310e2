/**
 * Install it the way users do: a real npm registry (verdaccio) on 127.0.0.1, the release staged
 * and published by native/scripts/stage-release.mjs (the release workflow's own script), then
 * `npm install engram-query` in an empty project. The addon must arrive through the platform
 * package in optionalDependencies (the main package carries none); three `npx engram-node`
 * processes from that install form a cluster and `npx engram` answers a Recall through the node
 * that holds no copy. Installed without optional dependencies (as on a platform we ship no build
 * for) a single node still answers, on the TS gather, after one warning.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalRegistry } from './helpers/registry.js';
import { RegistryProject, type InstalledNode } from './helpers/registry-project.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STAGE = join(REPO, 'native', 'scripts', 'stage-release.mjs');
const INSTALL_TIMEOUT_MS = 240_000;
const CLI_TIMEOUT_MS = 60_000;
/** Until the three nodes see each other and the space's assignment, ms. */
const CONVERGE_TIMEOUT_MS = 30_000;
/** Rows from which the gather uses the addon (gather-engine's DEFAULT_NATIVE_MIN_ROWS): queries here return more. */
const MEMORIES = 300;
const DIMENSION = 32;

/** napi's platform name of this host → its Rust target, for the targets in package.json. */
const TARGETS: Record<string, string> = {
  'linux-x64-gnu': 'x86_64-unknown-linux-gnu',
  'linux-arm64-gnu': 'aarch64-unknown-linux-gnu',
  'linux-x64-musl': 'x86_64-unknown-linux-musl',
  'linux-arm64-musl': 'aarch64-unknown-linux-musl',
};

function hostAbi(): string {
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
  return `${process.platform}-${process.arch}-${glibc ? 'gnu' : 'musl'}`;
}

/** Why this host cannot run the test, or undefined. */
function notApplicable(abi: string): string | undefined {
  // Process groups, /proc and the POSIX npx the test drives are Linux's.
  if (process.platform !== 'linux') return `the install test drives Linux process groups and /proc; this host is ${process.platform}`;
  if (!TARGETS[abi]) return `no napi target for ${abi}`;
  return undefined;
}

/** The shared objects named `*.node` mapped into a process (Linux /proc). */
function mappedAddons(pid: number): string[] {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  return [...new Set(maps.split('\n').map((l) => l.split(/\s+/).slice(5).join(' ')).filter((p) => p.endsWith('.node')))];
}

const WORDS = ['comet', 'violin', 'harbour', 'glacier', 'lantern', 'orchard', 'quartz', 'meadow', 'falcon', 'ember', 'tide', 'canyon'];
const textOf = (i: number) => `${WORDS[i % 12]} ${WORDS[(i * 7 + 3) % 12]} ${WORDS[(i * 5 + 1) % 12]} ${i}`;

/** MEMORIES text-only memories (the CLI embeds them with the space's dimension). */
function memoriesJsonl(): string {
  return Array.from({ length: MEMORIES }, (_, i) => `${JSON.stringify({ id: `m${String(i).padStart(3, '0')}`, text: textOf(i), content: textOf(i) })}\n`).join('');
}

function stage(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [STAGE, ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`stage-release failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

/** What an Engram node's code does with the package: the public API, the proto files, no internals. */
const CONSUMER = `
import { Engine, LocalExecutor, gatherBackend, embedText, addPartitionService, internalPool, poolTransport, channelCredentials } from 'engram-query';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { join } from 'node:path';

const dir = await mkdtemp(join(os.tmpdir(), 'engram-consumer-'));
const engine = await Engine.open(dir);
await engine.createSpace('consumer', 32);
await engine.store('consumer', {
  memories: ['red apple', 'green pear', 'blue sea'].map((t, i) => ({ id: 'm' + i, embedding: embedText(t, 32), content: t })),
});
const result = await new LocalExecutor(engine, 'embedded').execute({ kind: 'recall', space: 'consumer', cue: { text: 'blue sea' }, limit: 2 });
await engine.close();
await rm(dir, { recursive: true, force: true });
const proto = existsSync(fileURLToPath(import.meta.resolve('engram-query/proto/engram/v1/engram.proto'))) ? 'found' : 'missing';
const internal = await import('engram-query/dist/src/cluster/cluster.js').then(() => 'importable', (e) => e.code);
console.log(JSON.stringify({
  backend: gatherBackend(), ids: result.memories.map((m) => m.id), full: result.coverage.full,
  embedding: [addPartitionService, internalPool, poolTransport, channelCredentials].map((f) => typeof f),
  proto, internal,
}));
`;

const abi = hostAbi();
const skip = notApplicable(abi);

describe('install from a registry', { timeout: 900_000 }, () => {
  let work: string;
  let registry: LocalRegistry | undefined;
  const projects: RegistryProject[] = [];
  let full: RegistryProject;
  const nodes: InstalledNode[] = [];
  let platformPackage: string;

  before(async () => {
    if (skip) return;
    work = await mkdtemp(join(os.tmpdir(), 'engram-registry-'));
    await mkdir(join(work, 'registry'));
    registry = await LocalRegistry.start(join(work, 'registry'));

    // The release as the workflow publishes it, narrowed to this host's target.
    const addon = join(REPO, 'native', `index.${abi}.node`);
    assert.ok(existsSync(addon), `${addon} is missing: run npm run build:native first`);
    const artifacts = join(work, 'artifacts', `bindings-${TARGETS[abi]}`);
    await mkdir(artifacts, { recursive: true });
    await copyFile(addon, join(artifacts, `index.${abi}.node`));
    const summary = JSON.parse(
      await stage(['--artifacts', join(work, 'artifacts'), '--out', join(work, 'release'), '--targets', TARGETS[abi]!, '--registry', registry.url], registry.npmEnv(join(work, 'npm-cache'))),
    ) as { name: string; version: string; platforms: { name: string }[]; published: string };
    assert.equal(summary.published, registry.url);
    platformPackage = summary.platforms[0]!.name;
  });

  after(async () => {
    await Promise.all(projects.map((p) => p.cleanup()));
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('npm install engram-query takes the addon from the platform package', async (t) => {
    if (skip) return t.skip(`does not apply: ${skip}`);
    full = await RegistryProject.create(join(work, 'app'), { ...registry!.npmEnv(join(work, 'npm-cache-app')), ENGRAM_NATIVE: 'required' });
    projects.push(full);
    const install = await full.npm(['install', 'engram-query', '--no-audit', '--no-fund'], INSTALL_TIMEOUT_MS);
    t.diagnostic(`npm install engram-query (fresh npm cache, dependencies through the registry's uplink ${registry!.uplink}): ${(install.ms / 1000).toFixed(1)} s`);

    const main = join(full.dir, 'node_modules', 'engram-query');
    const pkg = JSON.parse(readFileSync(join(main, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.optionalDependencies, { [platformPackage]: pkg.version });
    const nodeFiles = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? nodeFiles(join(dir, e.name)) : e.name.endsWith('.node') ? [join(dir, e.name)] : []));
    assert.deepEqual(nodeFiles(main), [], 'the main package must not carry the addon');
    for (const shipped of ['dist/src/index.js', 'native/binding.cjs', 'proto/engram/v1/engram.proto']) assert.ok(existsSync(join(main, shipped)), `${shipped} missing from the installed package`);
    assert.ok(!existsSync(join(main, 'dist', 'test')), 'test harness shipped');
    assert.deepEqual(nodeFiles(join(full.dir, 'node_modules', platformPackage)), [join(full.dir, 'node_modules', platformPackage, `index.${abi}.node`)]);
  });

  it('an Engram node imports the public surface, the proto files and nothing else', async (t) => {
    if (skip) return t.skip(`does not apply: ${skip}`);
    await writeFile(join(full.dir, 'consumer.js'), CONSUMER);
    const out = JSON.parse((await full.ok(process.execPath, ['consumer.js'], CLI_TIMEOUT_MS)).stdout.trim()) as Record<string, unknown>;
    assert.deepEqual(out, {
      backend: 'native',
      ids: ['m2', (out.ids as string[])[1]],
      full: true,
      embedding: ['function', 'function', 'function', 'function'],
      proto: 'found',
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it('three npx engram-node processes from the install form a cluster on the addon', async (t) => {
    if (skip) return t.skip(`does not apply: ${skip}`);
    const key = `registry-test-${process.pid}`;
    const common = (id: string) => ['--listen', '127.0.0.1:0', '--gossip', '127.0.0.1:0', '--data-dir', join(work, 'data', id), '--cluster-key', key];
    nodes.push(await full.startNode('n1', common('n1')));
    nodes.push(await full.startNode('n2', [...common('n2'), '--seeds', nodes[0]!.gossip]));
    nodes.push(await full.startNode('n3', [...common('n3'), '--seeds', nodes[0]!.gossip]));
    const addon = join(full.dir, 'node_modules', platformPackage, `index.${abi}.node`);
    for (const n of nodes) assert.deepEqual(mappedAddons(n.pid), [addon], `node ${n.id} must run on the platform package's addon`);
    for (const n of nodes) assert.equal(n.gather, 'native', `node ${n.id} start line`);

    const members = await until('three alive members', CONVERGE_TIMEOUT_MS, async () => {
      const s = await full.ok(process.execPath, [join(full.dir, 'node_modules', 'engram-query', 'dist', 'src', 'cli', 'main.js'), '--node', nodes[2]!.grpc, '--json', 'status'], CLI_TIMEOUT_MS);
      const m = (JSON.parse(s.stdout) as { members: { id: string; state: string }[] }).members;
      return m.filter((x) => x.state === 'alive').length === 3 ? m : undefined;
    });
    assert.deepEqual(members.map((m) => m.id).sort(), ['n1', 'n2', 'n3']);
  });

  it('npx engram stores through one node and answers a Recall through the node without a copy', async (t) => {
    if (skip) return t.skip(`does not apply: ${skip}`);
    const [n1, n2, n3] = nodes as [InstalledNode, InstalledNode, InstalledNode];
    const engram = (node: InstalledNode, args: string[]) => full.npx('engram', ['--node', node.grpc, ...args], CLI_TIMEOUT_MS);

    const created = await engram(n1, ['--json', 'space', 'create', 'travel', '--dimension', String(DIMENSION), '--primary', 'n1', '--replicas', 'n2']);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout), { space: 'travel', dimension: DIMENSION, created: true, primary: 'n1', replicas: ['n2'] });
    await until('n3 learns the assignment', CONVERGE_TIMEOUT_MS, async () => {
      const s = await engram(n3, ['--json', 'status']);
      const st = JSON.parse(s.stdout) as { assignments: { space: string }[]; spaces: { id: string }[] };
      assert.ok(!st.spaces.some((x) => x.id === 'travel'), 'n3 must hold no copy');
      return st.assignments.some((a) => a.space === 'travel') ? true : undefined;
    });

    const file = join(work, 'memories.jsonl');
    await writeFile(file, memoriesJsonl());
    const stored = await engram(n1, ['--json', 'store', 'travel', file, '--ack', 'all']);
    assert.equal(stored.code, 0, stored.stderr);
    assert.equal(JSON.parse(stored.stdout).memories, MEMORIES);

    // As a user reads it: the table and the coverage line.
    const recall = await engram(n3, ['recall', 'travel', '--text', textOf(41), '--limit', '3']);
    assert.equal(recall.code, 0, recall.stderr);
    const coverage = /^coverage: (\d+)\/(\d+) partitions answered, penalty ([\d.]+), full$/m.exec(recall.stdout);
    assert.ok(coverage, `no full coverage line in:\n${recall.stdout}`);
    assert.equal(coverage[1], coverage[2]);
    assert.equal(coverage[3], '0.000');
    const served = [...recall.stdout.matchAll(/^ {2}\S+ @ (\S+) \((primary|replica)\): ok/gm)].map((m) => m[1]);
    assert.ok(served.length > 0 && served.every((n) => n === 'n1' || n === 'n2'), `answered by ${served.join(', ')}:\n${recall.stdout}`);
    assert.match(recall.stdout, /^1 +m041 /m, recall.stdout);

    // Enough rows that the coordinator's gather runs on the addon (ENGRAM_NATIVE=required).
    const wide = await engram(n3, ['--json', 'recall', 'travel', '--text', 'comet harbour', '--limit', String(MEMORIES), '--threshold=-1']);
    assert.equal(wide.code, 0, wide.stderr);
    const r = JSON.parse(wide.stdout) as { memories: { id: string }[]; coverage: { full: boolean; penalty: number } };
    assert.equal(r.memories.length, MEMORIES);
    assert.deepEqual([r.coverage.full, r.coverage.penalty], [true, 0]);
    for (const n of [n1, n2, n3]) assert.doesNotMatch(n.stderr(), /ENGRAM_NATIVE_FALLBACK|"level":"error"/, `node ${n.id}:\n${n.stderr()}`);
  });

  it('installed without its platform package, one node answers on the TS gather after one warning', async (t) => {
    if (skip) return t.skip(`does not apply: ${skip}`);
    const env = registry!.npmEnv(join(work, 'npm-cache-bare'));
    delete env.ENGRAM_NATIVE;
    const bare = await RegistryProject.create(join(work, 'bare'), env);
    projects.push(bare);
    await bare.npm(['install', 'engram-query', '--omit=optional', '--no-audit', '--no-fund'], INSTALL_TIMEOUT_MS);
    assert.ok(!existsSync(join(bare.dir, 'node_modules', platformPackage)), 'the platform package was installed');

    // Gossip is SWIM on the addon: without it a cluster node refuses to start, and says why.
    const refused = await bare.npx('engram-node', ['--id', 'g', '--listen', '127.0.0.1:0', '--gossip', '127.0.0.1:0', '--cluster-key', 'k', '--data-dir', join(work, 'data', 'g')], CLI_TIMEOUT_MS);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /native addon/);

    const solo = await bare.startNode('solo', ['--listen', '127.0.0.1:0', '--data-dir', join(work, 'data', 'solo')]);
    assert.deepEqual(mappedAddons(solo.pid), []);
    assert.equal(solo.gather, 'ts');
    const engram = (args: string[]) => bare.npx('engram', ['--node', solo.grpc, ...args], CLI_TIMEOUT_MS);
    assert.equal((await engram(['space', 'create', 'travel', '--dimension', String(DIMENSION)])).code, 0);
    const file = join(work, 'memories.jsonl');
    assert.equal((await engram(['store', 'travel', file])).code, 0);
    const wide = await engram(['--json', 'recall', 'travel', '--text', 'comet harbour', '--limit', String(MEMORIES), '--threshold=-1']);
    assert.equal(wide.code, 0, wide.stderr);
    const r = JSON.parse(wide.stdout) as { memories: { id: string }[]; coverage: { full: boolean } };
    assert.equal(r.memories.length, MEMORIES);
    assert.equal(r.coverage.full, true);
    const again = await engram(['recall', 'travel', '--text', textOf(41), '--limit', '3']);
    assert.match(again.stdout, /^coverage: 1\/1 partitions answered, penalty 0\.000, full$/m, again.stdout);
    assert.match(again.stdout, /^1 +m041 /m, again.stdout);
    assert.equal(solo.stderr().match(/ENGRAM_NATIVE_FALLBACK/g)?.length, 1, solo.stderr());
    await solo.stop();

    // The library alone, as an embedding node uses it: the same answer on the TS gather, one
    // warning; ENGRAM_NATIVE=required turns the missing addon into an error.
    await writeFile(join(bare.dir, 'consumer.js'), CONSUMER);
    const lib = await bare.ok(process.execPath, ['consumer.js'], CLI_TIMEOUT_MS);
    assert.equal(JSON.parse(lib.stdout.trim()).backend, 'ts');
    assert.equal(lib.stderr.match(/ENGRAM_NATIVE_FALLBACK/g)?.length, 1, lib.stderr);
    const required = await bare.run(process.execPath, ['consumer.js'], CLI_TIMEOUT_MS, { ENGRAM_NATIVE: 'required' });
    assert.notEqual(required.code, 0);
    assert.match(required.stderr, /ERR_NATIVE_UNAVAILABLE|native addon did not load/);
  });
});
