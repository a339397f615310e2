/**
 * The linux-gnu addon loads on glibc 2.17 and later: no symbol it imports is bound to a newer
 * GLIBC_ version (DESIGN §9; `npm run build:native` links it against napi's glibc 2.17
 * toolchain), and it ships stripped. Read from the ELF file itself, no binutils needed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions, glibcNeeds, readElf } from './helpers/elf.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The oldest glibc the linux-gnu addon supports (napi-rs cross toolchain sysroot). */
const GLIBC_FLOOR = '2.17';

/** Why this host has no linux-gnu addon to check, or undefined when it has one. */
function notApplicable(): string | undefined {
  if (process.platform !== 'linux') return `the glibc floor concerns the linux-gnu addon; this host is ${process.platform}`;
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
  if (!glibc) return 'this Linux host has no glibc (musl?): it builds and loads the linux-musl addon, which has no glibc floor';
  if (process.arch !== 'x64' && process.arch !== 'arm64') return `no linux-gnu addon is shipped for ${process.arch}`;
  return undefined;
}

function addonFile(): string {
  const file = join(REPO, 'native', `index.linux-${process.arch}-gnu.node`);
  assert.ok(existsSync(file), `${file} is missing: run npm run build:native first`);
  return file;
}

/**
 * A minimal ELF64 little-endian shared object with the given versioned imports from libc.so.6
 * (and a .symtab when `symtab`), to show the checks below fail on a file that breaks them.
 */
function fixtureElf(imports: [symbol: string, version: string][], symtab: boolean): Buffer {
  const strs = ['', 'libc.so.6'];
  const str = (s: string) => {
    if (!strs.includes(s)) strs.push(s);
    let off = 0;
    for (const x of strs) {
      if (x === s) return off;
      off += Buffer.byteLength(x) + 1;
    }
    throw new Error('unreachable');
  };
  const versions = [...new Set(imports.map(([, v]) => v))];
  const dynsym = Buffer.alloc(24 * (imports.length + 1));
  imports.forEach(([name], i) => dynsym.writeUInt32LE(str(name), 24 * (i + 1))); // st_shndx 0: imported
  const versym = Buffer.alloc(2 * (imports.length + 1));
  imports.forEach(([, v], i) => versym.writeUInt16LE(2 + versions.indexOf(v), 2 * (i + 1)));
  const verneed = Buffer.alloc(16 + 16 * versions.length);
  verneed.writeUInt16LE(1, 0);
  verneed.writeUInt16LE(versions.length, 2);
  verneed.writeUInt32LE(str('libc.so.6'), 4);
  verneed.writeUInt32LE(16, 8);
  versions.forEach((v, k) => {
    const o = 16 + 16 * k;
    verneed.writeUInt16LE(2 + k, o + 6);
    verneed.writeUInt32LE(str(v), o + 8);
    verneed.writeUInt32LE(k + 1 < versions.length ? 16 : 0, o + 12);
  });
  const dynstr = Buffer.concat(strs.map((s) => Buffer.from(`${s}\0`, 'latin1')));
  const names = ['', '.dynstr', '.dynsym', '.gnu.version', '.gnu.version_r', '.symtab', '.shstrtab'];
  const shstrtab = Buffer.concat(names.map((s) => Buffer.from(`${s}\0`, 'latin1')));
  const nameOff = (i: number) => names.slice(0, i).reduce((n, s) => n + s.length + 1, 0);
  // [name index, type, body, link, info, entsize]
  const secs: [number, number, Buffer, number, number, number][] = [
    [1, 3, dynstr, 0, 0, 0],
    [2, 11, dynsym, 1, 1, 24],
    [3, 0x6fffffff, versym, 2, 0, 2],
    [4, 0x6ffffffe, verneed, 1, 1, 0],
    ...(symtab ? ([[5, 2, Buffer.alloc(24), 1, 1, 24]] as [number, number, Buffer, number, number, number][]) : []),
    [6, 3, shstrtab, 0, 0, 0],
  ];
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  header[6] = 1;
  header.writeUInt16LE(3, 0x10); // ET_DYN
  header.writeUInt16LE(0x3e, 0x12); // x86-64
  let offset = 64;
  const bodies = secs.map(([, , body]) => {
    const at = offset;
    offset += body.length;
    return at;
  });
  header.writeBigUInt64LE(BigInt(offset), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(secs.length + 1, 0x3c);
  header.writeUInt16LE(secs.length, 0x3e);
  const shdrs = Buffer.alloc(64 * (secs.length + 1));
  secs.forEach(([n, type, body, link, info, entsize], i) => {
    const o = 64 * (i + 1);
    shdrs.writeUInt32LE(nameOff(n), o);
    shdrs.writeUInt32LE(type, o + 4);
    shdrs.writeBigUInt64LE(BigInt(bodies[i]!), o + 24);
    shdrs.writeBigUInt64LE(BigInt(body.length), o + 32);
    shdrs.writeUInt32LE(link, o + 40);
    shdrs.writeUInt32LE(info, o + 44);
    shdrs.writeBigUInt64LE(BigInt(entsize), o + 56);
  });
  return Buffer.concat([header, ...secs.map(([, , b]) => b), shdrs]);
}

/** What the tests below assert about a file: GLIBC versions above the floor, and stripping. */
function violations(buf: Buffer): { tooNew: string[]; privateGlibc: boolean; stripped: boolean; highest: string | undefined } {
  const info = readElf(buf);
  const needs = glibcNeeds(info);
  return {
    tooNew: needs.filter((n) => compareVersions(n.version, GLIBC_FLOOR) > 0).map((n) => `GLIBC_${n.version} (${n.symbols.join(', ') || 'no symbol bound'})`),
    privateGlibc: info.needs.some((n) => n.version === 'GLIBC_PRIVATE'),
    stripped: !info.hasSymtab,
    highest: needs[0] && `GLIBC_${needs[0].version} (${needs[0].symbols.join(', ')})`,
  };
}

describe('native addon: glibc floor and stripping', () => {
  it('the checks catch a file that needs a newer glibc or keeps its symbol table', () => {
    const bad = violations(fixtureElf([['memcpy', 'GLIBC_2.14'], ['__libc_start_main', 'GLIBC_2.34'], ['pthread_create', 'GLIBC_2.34'], ['stat', 'GLIBC_2.2.5']], true));
    assert.deepEqual(bad, { tooNew: ['GLIBC_2.34 (__libc_start_main, pthread_create)'], privateGlibc: false, stripped: false, highest: 'GLIBC_2.34 (__libc_start_main, pthread_create)' });
    const good = violations(fixtureElf([['memcpy', 'GLIBC_2.14'], ['stat', 'GLIBC_2.2.5'], ['strlen', 'GLIBC_2.17']], false));
    assert.deepEqual(good, { tooNew: [], privateGlibc: false, stripped: true, highest: 'GLIBC_2.17 (strlen)' });
    assert.throws(() => readElf(fixtureElf([['memcpy', 'GLIBC_2.14']], false).subarray(0, 200)), /outside the file/);
    assert.throws(() => readElf(Buffer.from('#!/bin/sh\n')), /not an ELF file/);
  });

  it(`the linux-gnu addon needs nothing from glibc above ${GLIBC_FLOOR}`, (t) => {
    const why = notApplicable();
    if (why) return t.skip(`does not apply: ${why}`);
    const file = addonFile();
    const v = violations(readFileSync(file));
    // A reader that found nothing would pass anything: the addon does import from glibc.
    assert.ok(v.highest, `no GLIBC_ version needs found in ${file}`);
    assert.deepEqual(v.tooNew, [], `${file} needs a glibc newer than ${GLIBC_FLOOR}: build it with npm run build:native (napi cross toolchain), not a plain napi build`);
    assert.equal(v.privateGlibc, false, `${file} uses GLIBC_PRIVATE symbols`);
    t.diagnostic(`highest glibc version needed: ${v.highest}`);
  });

  it('the linux-gnu addon is stripped and still exports its module entry point', (t) => {
    const why = notApplicable();
    if (why) return t.skip(`does not apply: ${why}`);
    const file = addonFile();
    const info = readElf(readFileSync(file));
    assert.equal(info.hasSymtab, false, `${file} has a .symtab: it is not stripped`);
    assert.ok(info.dynamicSymbols.some((s) => s.name === 'napi_register_module_v1' && !s.imported), 'napi_register_module_v1 is not exported');
  });
});
