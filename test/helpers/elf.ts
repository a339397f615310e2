/**
 * A small ELF reader for the distribution tests: which symbol versions a shared object needs
 * (.gnu.version_r with .dynsym/.gnu.version) and whether it still has a .symtab. Parsed here so
 * the checks need no binutils. Handles 32/64-bit and either byte order; throws on anything
 * truncated or malformed rather than guessing.
 */

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHN_UNDEF = 0;
/** Bounds every linked-list walk, so a corrupt file cannot loop forever. */
const MAX_ENTRIES = 1 << 20;

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

/** One version a file needs from a library, e.g. GLIBC_2.14 from libc.so.6. */
export interface VersionNeed {
  file: string;
  version: string;
  /** The index .gnu.version uses for it. */
  index: number;
}

export interface DynamicSymbol {
  name: string;
  /** Undefined here: the object imports it. */
  imported: boolean;
  /** The version it is bound to (imports only), e.g. GLIBC_2.14; undefined when unversioned. */
  version?: string;
  file?: string;
}

export interface ElfInfo {
  bits: 32 | 64;
  machine: number;
  sections: ElfSection[];
  needs: VersionNeed[];
  dynamicSymbols: DynamicSymbol[];
  /** A .symtab is present: the file is not stripped. */
  hasSymtab: boolean;
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    private readonly little: boolean,
  ) {}

  private check(offset: number, size: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > this.buf.length) {
      throw new Error(`ELF: read of ${size} bytes at ${offset} is outside the file (${this.buf.length} bytes)`);
    }
  }

  u8(o: number): number {
    this.check(o, 1);
    return this.buf.readUInt8(o);
  }
  u16(o: number): number {
    this.check(o, 2);
    return this.little ? this.buf.readUInt16LE(o) : this.buf.readUInt16BE(o);
  }
  u32(o: number): number {
    this.check(o, 4);
    return this.little ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o);
  }
  u64(o: number): number {
    this.check(o, 8);
    const v = this.little ? this.buf.readBigUInt64LE(o) : this.buf.readBigUInt64BE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`ELF: value ${v} at ${o} is too large`);
    return Number(v);
  }
  cstr(o: number): string {
    this.check(o, 1);
    const end = this.buf.indexOf(0, o);
    if (end < 0) throw new Error(`ELF: unterminated string at ${o}`);
    return this.buf.toString('latin1', o, end);
  }
}

/** Parses the sections, version needs and dynamic symbols of an ELF shared object or executable. */
export function readElf(buf: Buffer): ElfInfo {
  if (buf.length < 16 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('ELF: not an ELF file (bad magic)');
  const cls = buf[4];
  const data = buf[5];
  if (cls !== 1 && cls !== 2) throw new Error(`ELF: unknown class ${cls}`);
  if (data !== 1 && data !== 2) throw new Error(`ELF: unknown data encoding ${data}`);
  const bits = cls === 2 ? 64 : 32;
  const r = new Reader(buf, data === 1);
  const word = (o: number) => (bits === 64 ? r.u64(o) : r.u32(o));

  const machine = r.u16(0x12);
  const shoff = bits === 64 ? r.u64(0x28) : r.u32(0x20);
  const shentsize = r.u16(bits === 64 ? 0x3a : 0x2e);
  const shnum = r.u16(bits === 64 ? 0x3c : 0x30);
  const shstrndx = r.u16(bits === 64 ? 0x3e : 0x32);
  if (shoff === 0 || shnum === 0) throw new Error('ELF: no section headers');
  if (shentsize < (bits === 64 ? 64 : 40)) throw new Error(`ELF: section header size ${shentsize} too small`);

  const raw = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    const w = bits === 64 ? 8 : 4;
    // name, type, flags, addr, offset, size, link, info, addralign, entsize
    return {
      nameOff: r.u32(o),
      type: r.u32(o + 4),
      offset: word(o + 8 + 2 * w),
      size: word(o + 8 + 3 * w),
      link: r.u32(o + 8 + 4 * w),
      info: r.u32(o + 12 + 4 * w),
      entsize: word(o + 16 + 5 * w),
    };
  });
  const shstr = raw[shstrndx];
  if (!shstr) throw new Error(`ELF: section name table index ${shstrndx} out of range`);
  const sections: ElfSection[] = raw.map(({ nameOff, ...s }) => ({ ...s, name: r.cstr(shstr.offset + nameOff) }));
  const strtab = (index: number) => {
    const s = sections[index];
    if (!s) throw new Error(`ELF: string table index ${index} out of range`);
    return (off: number) => {
      if (off >= s.size) throw new Error(`ELF: string offset ${off} outside its table`);
      return r.cstr(s.offset + off);
    };
  };

  const needs: VersionNeed[] = [];
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (verneed) {
    const str = strtab(verneed.link);
    let at = verneed.offset;
    // sh_info is the number of Verneed entries; each has vn_cnt Vernaux entries.
    for (let n = 0; n < Math.min(verneed.info, MAX_ENTRIES); n++) {
      const cnt = r.u16(at + 2);
      const file = str(r.u32(at + 4));
      let aux = at + r.u32(at + 8);
      for (let k = 0; k < Math.min(cnt, MAX_ENTRIES); k++) {
        needs.push({ file, index: r.u16(aux + 6) & 0x7fff, version: str(r.u32(aux + 8)) });
        const next = r.u32(aux + 12);
        if (next === 0) break;
        aux += next;
      }
      const next = r.u32(at + 12);
      if (next === 0) break;
      at += next;
    }
  }

  const dynamicSymbols: DynamicSymbol[] = [];
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  if (dynsym) {
    const entsize = dynsym.entsize || (bits === 64 ? 24 : 16);
    const count = Math.floor(dynsym.size / entsize);
    if (count > MAX_ENTRIES) throw new Error(`ELF: ${count} dynamic symbols is implausible`);
    const str = strtab(dynsym.link);
    const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
    const byIndex = new Map(needs.map((n) => [n.index, n]));
    // Entry 0 is the reserved null symbol.
    for (let i = 1; i < count; i++) {
      const o = dynsym.offset + i * entsize;
      const shndx = r.u16(bits === 64 ? o + 6 : o + 14);
      const sym: DynamicSymbol = { name: str(r.u32(o)), imported: shndx === SHN_UNDEF };
      if (sym.imported && versym) {
        const need = byIndex.get(r.u16(versym.offset + i * 2) & 0x7fff);
        if (need) Object.assign(sym, { version: need.version, file: need.file });
      }
      dynamicSymbols.push(sym);
    }
  }

  return { bits, machine, sections, needs, dynamicSymbols, hasSymtab: sections.some((s) => s.type === SHT_SYMTAB) };
}

/** Compares dotted versions numerically: '2.3.4' < '2.14' < '2.17'. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The GLIBC_x.y versions a file needs, highest first, each with the imported symbols bound to it. */
export function glibcNeeds(info: ElfInfo): { version: string; symbols: string[] }[] {
  const out = new Map<string, string[]>();
  for (const n of info.needs) {
    if (n.version.startsWith('GLIBC_') && /^\d+(\.\d+)*$/.test(n.version.slice(6))) out.set(n.version.slice(6), []);
  }
  for (const s of info.dynamicSymbols) {
    if (s.imported && s.version?.startsWith('GLIBC_')) out.get(s.version.slice(6))?.push(s.name);
  }
  return [...out.entries()].map(([version, symbols]) => ({ version, symbols: symbols.sort() })).sort((a, b) => compareVersions(b.version, a.version));
}
