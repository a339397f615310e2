/**
 * Packs the package and its linux-x64-gnu platform package the way they would be published,
 * installs both tarballs into an empty project, and runs a query there through the public API
 * with the native addon required: the way an Engram node consumes the library.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
}

const CONSUMER = `
import { Engine, LocalExecutor, gatherBackend, embedText } from 'engram-query';
import { mkdtemp, rm } from 'node:fs/promises';
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
console.log(JSON.stringify({ backend: gatherBackend(), ids: result.memories.map((m) => m.id), full: result.coverage.full }));
`;

describe('npm pack and install', () => {
  let work: string | undefined;
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs from tarballs and answers a query with the native addon', async () => {
    work = await mkdtemp(join(os.tmpdir(), 'engram-pack-'));
    const tarballs = join(work, 'tarballs');
    await mkdir(tarballs);
    await run(NPM, ['pack', '--pack-destination', tarballs, '--silent'], REPO);

    // The platform package as napi-rs lays it out (inside the project, as napi requires; git
    // ignores it), with the addon built for this machine.
    const npmDir = join(REPO, 'native', 'npm');
    await run(join(REPO, 'node_modules', '.bin', 'napi'), ['create-npm-dirs', '--npm-dir', npmDir, '--package-json-path', join(REPO, 'package.json')], REPO);
    const platformDir = join(npmDir, 'linux-x64-gnu');
    await copyFile(join(REPO, 'native', 'index.linux-x64-gnu.node'), join(platformDir, 'index.linux-x64-gnu.node'));
    await run(NPM, ['pack', '--pack-destination', tarballs, '--silent'], platformDir);
    const files = (await readdir(tarballs)).sort();
    assert.equal(files.length, 2, files.join(', '));

    const project = join(work, 'consumer');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
    await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files.map((f) => join(tarballs, f))], project);
    await writeFile(join(project, 'main.js'), CONSUMER);
    const out = JSON.parse((await run(process.execPath, ['main.js'], project, { ENGRAM_NATIVE: 'required' })).trim());
    assert.deepEqual(out, { backend: 'native', ids: ['m2', out.ids[1]], full: true });
    assert.equal(out.ids.length, 2);

    // Without its platform package (a platform we ship no build for) the library still answers,
    // on the pure-TS gather, after saying so once; `required` makes that an error.
    const bare = join(work, 'bare');
    await mkdir(bare);
    await writeFile(join(bare, 'package.json'), JSON.stringify({ name: 'bare', version: '1.0.0', type: 'module', private: true }));
    const main = files.find((f) => !f.includes('linux-x64-gnu'))!;
    await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=optional', join(tarballs, main)], bare);
    await writeFile(join(bare, 'main.js'), CONSUMER);
    const fallback = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, ['main.js'], { cwd: bare, env: { ...process.env, ENGRAM_NATIVE: 'auto' }, encoding: 'utf8' }, (err, stdout, stderr) =>
        err ? reject(err) : resolve({ stdout, stderr }),
      ),
    );
    assert.deepEqual(JSON.parse(fallback.stdout.trim()), { ...out, backend: 'ts' });
    assert.equal(fallback.stderr.match(/ENGRAM_NATIVE_FALLBACK/g)?.length, 1, fallback.stderr);
    await assert.rejects(run(process.execPath, ['main.js'], bare, { ENGRAM_NATIVE: 'required' }), /ERR_NATIVE_UNAVAILABLE|native addon did not load/);
  });
});
