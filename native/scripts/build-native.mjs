#!/usr/bin/env node
/**
 * `npm run build:native [-- napi build flags]`: builds the addon into native/ with napi-rs.
 *
 * On a Linux x64/arm64 glibc host building a linux-gnu target, the build goes through
 * `--use-napi-cross`: napi downloads (once, into ~/.napi-rs) a gcc toolchain whose sysroot is
 * glibc 2.17 and links against it, so the addon loads on any glibc from 2.17 on, not only on the
 * glibc of the machine that built it. That toolchain only runs on Linux x64/arm64 and only targets
 * glibc, so every other host or target (macOS, Windows, musl, Linux on other CPUs) gets a plain
 * `napi build`: the README's commands then still work anywhere with Node, npm and Rust.
 * The addon is stripped (no .symtab): a smaller package, the same exported symbols. Through
 * Cargo's profile setting, not napi's --strip: that passes `-C link-arg=-s`, which GNU ld drops
 * when rustc's own `-Wl,--strip-debug` comes after it (the last strip option wins).
 *
 * ENGRAM_NAPI_CROSS=off forces the plain build (e.g. offline, with no toolchain cached);
 * ENGRAM_NAPI_CROSS=on requires the cross toolchain and fails where it cannot be used.
 * Extra arguments go to `napi build` (e.g. `--target aarch64-unknown-linux-gnu`, `-x`).
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'package.json'));

/** Targets napi's cross toolchain can build from a Linux x64 or arm64 host that we ship. */
const NAPI_CROSS_TARGETS = new Set(['x86_64-unknown-linux-gnu', 'aarch64-unknown-linux-gnu']);
const OTHER_CROSS_FLAGS = new Set(['-x', '--cross-compile', '--use-cross', '--use-napi-cross']);

function flagValue(args, ...names) {
  for (let i = 0; i < args.length; i++) {
    for (const name of names) {
      if (args[i] === name) return args[i + 1];
      if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
    }
  }
  return undefined;
}

function rustHostTriple() {
  const out = execFileSync(process.env.RUSTC || 'rustc', ['-vV'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('host: '));
  if (!line) throw new Error('`rustc -vV` printed no host line');
  return line.slice('host: '.length).trim();
}

/** glibc version of this process ('2.39'), or undefined on musl and non-Linux hosts. */
function hostGlibc() {
  if (process.platform !== 'linux') return undefined;
  const header = process.report?.getReport?.().header;
  return header?.glibcVersionRuntime;
}

/** Whether to add --use-napi-cross, and why (printed, so a build log says which build it was). */
function crossDecision({ target, args, mode, platform, arch, glibc }) {
  if (mode === 'off') return { cross: false, why: 'ENGRAM_NAPI_CROSS=off' };
  if (args.some((a) => OTHER_CROSS_FLAGS.has(a))) return { cross: false, why: 'another cross-compilation flag was given' };
  const problem =
    platform !== 'linux' || (arch !== 'x64' && arch !== 'arm64')
      ? `napi's cross toolchain runs on Linux x64/arm64 only (this host: ${platform}-${arch})`
      : !glibc
        ? 'this Linux host has no glibc (musl?)'
        : !NAPI_CROSS_TARGETS.has(target)
          ? `target ${target} is not a linux-gnu target the cross toolchain builds`
          : undefined;
  if (problem && mode === 'on') throw new Error(`ENGRAM_NAPI_CROSS=on but ${problem}`);
  if (problem) return { cross: false, why: problem };
  return { cross: true, why: `glibc 2.17 floor; this host has glibc ${glibc}` };
}

function main() {
  const args = process.argv.slice(2);
  const mode = (process.env.ENGRAM_NAPI_CROSS ?? 'auto').toLowerCase();
  if (!['auto', 'on', 'off'].includes(mode)) throw new Error(`ENGRAM_NAPI_CROSS must be auto, on or off (got ${JSON.stringify(mode)})`);
  const target = flagValue(args, '--target', '-t') ?? process.env.CARGO_BUILD_TARGET ?? rustHostTriple();
  const decision = crossDecision({ target, args, mode, platform: process.platform, arch: process.arch, glibc: hostGlibc() });
  const napiArgs = [
    'build', '--platform', '--release',
    '--manifest-path', 'native/binding/Cargo.toml',
    '--package-json-path', 'package.json',
    '--output-dir', 'native',
    '--js', 'binding.cjs',
    '--dts', 'binding.d.cts',
    ...(decision.cross ? ['--use-napi-cross'] : []),
    ...args,
  ];
  console.error(`build-native: ${decision.cross ? 'napi cross toolchain' : 'plain napi build'} for ${target} (${decision.why})`);
  const cli = join(dirname(require.resolve('@napi-rs/cli/package.json')), require('@napi-rs/cli/package.json').bin.napi);
  const started = process.hrtime.bigint();
  const env = { ...process.env, CARGO_PROFILE_RELEASE_STRIP: process.env.CARGO_PROFILE_RELEASE_STRIP ?? 'symbols' };
  const res = spawnSync(process.execPath, [cli, ...napiArgs], { cwd: ROOT, stdio: 'inherit', env });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    if (decision.cross) console.error('build-native: failed with the napi cross toolchain; if it could not be downloaded (offline?), ENGRAM_NAPI_CROSS=off builds against this host\'s glibc instead (docs/distribution.md)');
    process.exit(res.status ?? 1);
  }
  console.error(`build-native: done in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  console.error(`build-native: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
