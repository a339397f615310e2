#!/usr/bin/env node
/**
 * Stages a release from built addons, and publishes it when asked: the release workflow and the
 * registry-install test both go through here, so the test installs what a release publishes.
 *
 *   node native/scripts/stage-release.mjs --artifacts DIR [--out DIR] [--targets T1,T2]
 *        [--registry URL [--tag TAG] [--provenance] [--dry-run]]
 *
 * --artifacts  a directory holding index.<platform>.node files at any depth (e.g. the release
 *              workflow's downloaded artifacts, one subdirectory per target).
 * --out        an empty or missing directory to stage in (default: a new one under the OS temp
 *              directory). The tracked package.json is never modified: everything is a copy.
 * --targets    release only these napi targets (default: every target in package.json `napi`);
 *              a target without its artifact is an error either way.
 * --registry   publish there: each platform package, then the main package (so the main package
 *              never points at a version that is not there yet). npm's credentials come from its
 *              usual config (NPM_CONFIG_USERCONFIG, ~/.npmrc, NODE_AUTH_TOKEN via setup-node).
 *
 * What it stages, with napi-rs's own commands on the copy:
 *   <out>/engram-query/              the main package: the files `npm pack` takes from the repo
 *                                    (built dist/, proto/, the generated loader), no .node file
 *   <out>/engram-query/npm/<abi>/    one package per target (`napi create-npm-dirs`), holding its
 *                                    addon (`napi artifacts`)
 * and sets the main package's optionalDependencies to every platform package at the same version
 * (`napi pre-publish --skip-optional-publish`). Prints a JSON summary on stdout.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'package.json'));
const NAPI = join(dirname(require.resolve('@napi-rs/cli/package.json')), require('@napi-rs/cli/package.json').bin.napi);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** What the main package must contain to work once installed. */
const REQUIRED_FILES = ['package.json', 'dist/src/index.js', 'dist/src/node/main.js', 'dist/src/cli/main.js', 'native/binding.cjs', 'proto/engram/v1/engram.proto'];

function log(msg) {
  console.error(`stage-release: ${msg}`);
}

function fail(msg) {
  console.error(`stage-release: ${msg}`);
  process.exit(1);
}

function run(cmd, args, cwd) {
  // npm.cmd needs a shell on Windows (Node refuses to spawn .cmd files without one).
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8', shell: process.platform === 'win32', maxBuffer: 64 * 1024 * 1024 });
  if (res.error) throw res.error;
  if (res.status !== 0) fail(`${[cmd, ...args].join(' ')} (in ${cwd}) exited ${res.status}:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

const napi = (args, cwd) => run(process.execPath, [NAPI, ...args], cwd);

/** The files `npm pack` would put in the package in `dir`, per its `files` and npm's rules. */
function packFiles(dir) {
  const out = JSON.parse(run(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], dir));
  return out[0].files.map((f) => f.path);
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function main() {
  const { values } = parseArgs({
    options: {
      artifacts: { type: 'string' },
      out: { type: 'string' },
      targets: { type: 'string' },
      registry: { type: 'string' },
      tag: { type: 'string' },
      provenance: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.artifacts) fail('--artifacts DIR is required');
  const artifacts = resolve(values.artifacts);
  if (!existsSync(artifacts)) fail(`--artifacts ${artifacts} does not exist`);

  const pkg = readJson(join(ROOT, 'package.json'));
  const declared = pkg.napi?.targets ?? [];
  const targets = values.targets ? values.targets.split(',').filter(Boolean) : declared;
  const unknown = targets.filter((t) => !declared.includes(t));
  if (targets.length === 0 || unknown.length > 0) fail(`--targets must name targets of package.json napi.targets (${declared.join(', ')}); got ${targets.join(', ') || 'none'}`);

  const out = values.out ? resolve(values.out) : mkdtempSync(join(os.tmpdir(), 'engram-release-'));
  if (existsSync(out) && readdirSync(out).length > 0) fail(`--out ${out} is not empty`);
  const main = join(out, pkg.name);
  mkdirSync(main, { recursive: true });

  // The main package: exactly what npm would pack from the repo, in a copy.
  const files = packFiles(ROOT);
  const missing = REQUIRED_FILES.filter((f) => !files.includes(f));
  if (missing.length > 0) fail(`the repo's package lacks ${missing.join(', ')}: run npm run build first`);
  for (const f of files) {
    if (f === 'package.json') continue;
    mkdirSync(dirname(join(main, f)), { recursive: true });
    cpSync(join(ROOT, f), join(main, f));
  }
  // Scripts and dev tooling are the repo's, not the package's; napi.targets narrowed to this release.
  const { scripts: _scripts, devDependencies: _dev, overrides: _overrides, ...manifest } = pkg;
  writeJson(join(main, 'package.json'), { ...manifest, napi: { ...pkg.napi, targets } });

  napi(['create-npm-dirs', '--cwd', main, '--package-json-path', 'package.json', '--npm-dir', 'npm'], main);
  // Fails when a target has no artifact.
  napi(['artifacts', '--cwd', main, '--package-json-path', 'package.json', '--output-dir', artifacts, '--npm-dir', 'npm'], main);
  // napi artifacts also drops this host's addon next to the loader, for local use; the main package
  // must not carry one (it would shadow the platform package), so it goes.
  for (const f of readdirSync(main)) if (f.endsWith('.node')) rmSync(join(main, f));
  napi(['pre-publish', '--cwd', main, '--package-json-path', 'package.json', '--npm-dir', 'npm', '--tag-style', 'npm', '--skip-optional-publish', '--no-gh-release'], main);

  // Check what will be published, not what we meant to stage.
  const staged = readJson(join(main, 'package.json'));
  const platforms = [];
  const expectedOptional = {};
  for (const abi of readdirSync(join(main, 'npm'))) {
    const dir = join(main, 'npm', abi);
    const p = readJson(join(dir, 'package.json'));
    const packed = packFiles(dir);
    const addon = `${pkg.napi.binaryName}.${abi}.node`;
    if (p.version !== pkg.version) fail(`${p.name} has version ${p.version}, expected ${pkg.version}`);
    if (!packed.includes(addon)) fail(`${p.name} would be published without ${addon}`);
    expectedOptional[p.name] = pkg.version;
    platforms.push({ name: p.name, abi, dir, os: p.os, cpu: p.cpu, libc: p.libc });
  }
  if (platforms.length !== targets.length) fail(`staged ${platforms.length} platform packages for ${targets.length} targets`);
  const sorted = (o) => JSON.stringify(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
  if (sorted(staged.optionalDependencies) !== sorted(expectedOptional)) {
    fail(`main package optionalDependencies ${JSON.stringify(staged.optionalDependencies)}, expected ${JSON.stringify(expectedOptional)}`);
  }
  const mainFiles = packFiles(main);
  const nodeFiles = mainFiles.filter((f) => f.endsWith('.node'));
  if (nodeFiles.length > 0) fail(`the main package would ship ${nodeFiles.join(', ')}: the addon must come from its platform package`);
  const lost = REQUIRED_FILES.filter((f) => !mainFiles.includes(f));
  if (lost.length > 0) fail(`the staged main package lacks ${lost.join(', ')}`);
  log(`staged ${pkg.name}@${pkg.version} (${mainFiles.length} files) and ${platforms.map((p) => p.name).join(', ')} in ${out}`);

  if (values.registry) {
    const flags = ['--registry', values.registry, '--access', 'public', ...(values.tag ? ['--tag', values.tag] : []), ...(values.provenance ? ['--provenance'] : []), ...(values['dry-run'] ? ['--dry-run'] : [])];
    // --registry on the command line wins over each package's publishConfig.registry.
    for (const p of platforms) {
      log(`publishing ${p.name}@${pkg.version} to ${values.registry}`);
      run(NPM, ['publish', '--ignore-scripts', ...flags], p.dir);
    }
    log(`publishing ${pkg.name}@${pkg.version} to ${values.registry}`);
    run(NPM, ['publish', '--ignore-scripts', ...flags], main);
  }
  console.log(JSON.stringify({ name: pkg.name, version: pkg.version, out, main, platforms, published: values.registry && !values['dry-run'] ? values.registry : null }));
}

main();
