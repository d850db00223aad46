/**
 * ELF loading (after rust-vmm's linux-loader): the PT_LOAD segments of a little-endian ELF32 or
 * ELF64 executable go into guest memory at their physical addresses (`p_paddr`), file bytes
 * read straight from the file descriptor into guest RAM (pread: the descriptor's position is
 * untouched) or copied from bytes, the rest of each segment (bss) zeroed. The entry point,
 * the segments and the symbol table come back, so a test harness can find `tohost`.
 *
 * Everything is validated before the first byte is written: headers, that every segment's
 * file range lies in the file, that every segment lies in guest RAM, and that no two overlap.
 */
import type { GuestMemoryMmap } from '../guest-memory.js';
import { LoaderError } from './loader-error.js';
import type { LoadedImage } from './loaded-image.js';
import { openSource, type ImageSource, type Source } from './source.js';

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
/** The longest symbol name `loadElf` reads (bytes); a symbol with a longer one is left out of `symbols`. */
export const MAX_SYMBOL_NAME = 4096;

/** One loaded segment. */
export interface LoadedSegment {
  /** Guest physical address (p_paddr). */
  readonly addr: number;
  /** Bytes in guest memory (p_memsz); the tail past `fileSize` was zeroed. */
  readonly size: number;
  /** Bytes taken from the file (p_filesz). */
  readonly fileSize: number;
  /** PF_X = 1, PF_W = 2, PF_R = 4. */
  readonly flags: number;
}

/** What {@link loadElf} loaded. */
export interface LoadedElf extends LoadedImage {
  /** 32 or 64. */
  readonly class: 32 | 64;
  /** e_machine (243 = RISC-V, 62 = x86-64, 183 = AArch64, …). */
  readonly machine: number;
  /** Entry point (e_entry), a guest address. */
  readonly entry: number;
  /** The PT_LOAD segments, in file order. */
  readonly segments: readonly LoadedSegment[];
  /** Named symbols of .symtab (value = address), empty if the file is stripped. */
  readonly symbols: ReadonlyMap<string, number>;
  /** Lowest and one past the highest loaded guest address. */
  readonly low: number;
  /** One past the highest loaded address (bss included). */
  readonly high: number;
}

const truncated = (what: string): LoaderError =>
  new LoaderError('ERR_LOADER_TRUNCATED', `the file ends inside ${what}`);

/**
 * Loads the ELF executable from `source` into `mem`. Throws LoaderError (ERR_LOADER_FORMAT,
 * ERR_LOADER_TRUNCATED, ERR_LOADER_OUTSIDE_RAM, ERR_LOADER_OVERLAP) before writing anything,
 * or a GuestMemoryError (AccessDenied for a read-only region) / IOError.
 * @example const elf = loadElf(mem, { fd }); const tohost = elf.symbols.get('tohost');
 */
export function loadElf(mem: GuestMemoryMmap, source: ImageSource): LoadedElf {
  const src = openSource(source);
  const id = src.read(0, 64);
  if (id.length < 16) throw truncated('the ELF identification');
  if (id[0] !== 0x7f || id[1] !== 0x45 || id[2] !== 0x4c || id[3] !== 0x46)
    throw new LoaderError('ERR_LOADER_FORMAT', 'not an ELF file (bad magic)');
  const cls = id[4] === 1 ? 32 : id[4] === 2 ? 64 : 0;
  if (cls === 0) throw new LoaderError('ERR_LOADER_FORMAT', `unknown ELF class ${id[4]}`);
  if (id[5] !== 1) throw new LoaderError('ERR_LOADER_FORMAT', 'big-endian ELF files are not supported');
  const ehsize = cls === 64 ? 64 : 52;
  if (id.length < ehsize) throw truncated('the ELF header');
  const dv = new DataView(id.buffer, id.byteOffset, id.length);
  const word = (d: DataView, off: number): number =>
    cls === 64 ? Number(d.getBigUint64(off, true)) : d.getUint32(off, true);
  const type = dv.getUint16(16, true);
  if (type !== 2) throw new LoaderError('ERR_LOADER_FORMAT', `not an executable (e_type ${type})`);
  const machine = dv.getUint16(18, true);
  const entry = word(dv, 24);
  const phoff = word(dv, cls === 64 ? 32 : 28);
  const shoff = word(dv, cls === 64 ? 40 : 32);
  const phentsize = dv.getUint16(cls === 64 ? 54 : 42, true);
  const phnum = dv.getUint16(cls === 64 ? 56 : 44, true);
  const shentsize = dv.getUint16(cls === 64 ? 58 : 46, true);
  const shnum = dv.getUint16(cls === 64 ? 60 : 48, true);
  if (phentsize < (cls === 64 ? 56 : 32)) throw new LoaderError('ERR_LOADER_FORMAT', `e_phentsize ${phentsize}`);
  if (phoff + phnum * phentsize > src.size) throw truncated('the program headers');
  const ph = src.read(phoff, phnum * phentsize);
  const pdv = new DataView(ph.buffer, ph.byteOffset, ph.length);

  const segs: (LoadedSegment & { offset: number })[] = [];
  for (let i = 0; i < phnum; i++) {
    const b = i * phentsize;
    if (pdv.getUint32(b, true) !== PT_LOAD) continue;
    const flags = pdv.getUint32(b + (cls === 64 ? 4 : 24), true);
    const offset = word(pdv, b + (cls === 64 ? 8 : 4));
    const paddr = word(pdv, b + (cls === 64 ? 24 : 12));
    const filesz = word(pdv, b + (cls === 64 ? 32 : 16));
    const memsz = word(pdv, b + (cls === 64 ? 40 : 20));
    if (memsz === 0) continue;
    if (filesz > memsz) throw new LoaderError('ERR_LOADER_FORMAT', `segment ${i}: p_filesz > p_memsz`);
    if (!Number.isSafeInteger(offset + filesz) || offset + filesz > src.size) throw truncated(`segment ${i}`);
    if (!Number.isSafeInteger(paddr + memsz) || !mem.checkRange(paddr, memsz))
      throw new LoaderError(
        'ERR_LOADER_OUTSIDE_RAM',
        `segment ${i} [0x${paddr.toString(16)}, +0x${memsz.toString(16)}) is not inside guest RAM`,
      );
    segs.push({ addr: paddr, size: memsz, fileSize: filesz, flags, offset });
  }
  if (segs.length === 0) throw new LoaderError('ERR_LOADER_FORMAT', 'no PT_LOAD segment');
  const sorted = [...segs].sort((a, b) => a.addr - b.addr);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    if (p.addr + p.size > sorted[i]!.addr)
      throw new LoaderError(
        'ERR_LOADER_OVERLAP',
        `segments at 0x${p.addr.toString(16)} and 0x${sorted[i]!.addr.toString(16)} overlap`,
      );
  }
  const symbols = readSymbols(src, cls, shoff, shentsize, shnum, word);

  // Everything checked: now write.
  const zeros = new Uint8Array(64 * 1024);
  for (const s of segs) {
    if (s.fileSize > 0) src.toGuest(mem, s.addr, s.offset, s.fileSize);
    for (let done = s.fileSize; done < s.size;) {
      const n = Math.min(zeros.length, s.size - done);
      mem.writeSlice(n === zeros.length ? zeros : zeros.subarray(0, n), s.addr + done);
      done += n;
    }
  }
  const low = sorted[0]!.addr;
  const high = Math.max(...segs.map((s) => s.addr + s.size));
  return {
    class: cls,
    machine,
    entry,
    segments: segs.map(({ addr, size, fileSize, flags }) => ({ addr, size, fileSize, flags })),
    symbols,
    addr: low,
    end: high,
    low,
    high,
  };
}

function readSymbols(
  src: Source,
  cls: 32 | 64,
  shoff: number,
  shentsize: number,
  shnum: number,
  word: (d: DataView, off: number) => number,
): Map<string, number> {
  const out = new Map<string, number>();
  if (shoff === 0 || shnum === 0) return out;
  if (shentsize < (cls === 64 ? 64 : 40)) throw new LoaderError('ERR_LOADER_FORMAT', `e_shentsize ${shentsize}`);
  if (shoff + shnum * shentsize > src.size) throw truncated('the section headers');
  const sh = src.read(shoff, shnum * shentsize);
  const sdv = new DataView(sh.buffer, sh.byteOffset, sh.length);
  const section = (i: number): { type: number; offset: number; size: number; link: number; entsize: number } => {
    const b = i * shentsize;
    return {
      type: sdv.getUint32(b + 4, true),
      offset: word(sdv, b + (cls === 64 ? 24 : 16)),
      size: word(sdv, b + (cls === 64 ? 32 : 20)),
      link: sdv.getUint32(b + (cls === 64 ? 40 : 24), true),
      entsize: word(sdv, b + (cls === 64 ? 56 : 36)),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_SYMTAB) continue;
    if (s.link >= shnum) throw new LoaderError('ERR_LOADER_FORMAT', 'symbol table links to no string table');
    const str = section(s.link);
    if (s.offset + s.size > src.size || str.offset + str.size > src.size) throw truncated('the symbol table');
    const symsize = cls === 64 ? 24 : 16;
    const entsize = s.entsize || symsize;
    // an entry smaller than an Elf_Sym would be read past (a RangeError from the DataView)
    if (!Number.isSafeInteger(entsize) || entsize < symsize)
      throw new LoaderError(
        'ERR_LOADER_FORMAT',
        `symbol table entries of ${entsize} bytes (an Elf${cls}_Sym has ${symsize})`,
      );
    const syms = src.read(s.offset, s.size);
    const strings = src.read(str.offset, str.size);
    const d = new DataView(syms.buffer, syms.byteOffset, syms.length);
    const decoder = new TextDecoder();
    for (let off = 0; off + entsize <= syms.length; off += entsize) {
      const name = d.getUint32(off, true);
      if (name === 0 || name >= strings.length) continue;
      const value = cls === 64 ? Number(d.getBigUint64(off + 8, true)) : d.getUint32(off + 4, true);
      // names end at a NUL within MAX_SYMBOL_NAME bytes; a longer (or unterminated) one is
      // skipped, so a hostile table costs at most that much per symbol
      const end = strings.subarray(name, name + MAX_SYMBOL_NAME + 1).indexOf(0);
      if (end < 0) continue;
      out.set(decoder.decode(strings.subarray(name, name + end)), value);
    }
  }
  return out;
}
