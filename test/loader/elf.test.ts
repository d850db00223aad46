// ELF and raw image loading: segments from bytes and straight from an fd (pread), bss zeroed,
// symbols returned; every bad image refused with a coded LoaderError before anything is written.
import { existsSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestMemoryMmap, loadElf, loadRaw, LoaderError, MAX_SYMBOL_NAME, u32 } from '../../src/index.js';
import { buildElf } from '../helpers/elf.js';
import { tempFile } from '../helpers/temp-file.js';

const RAM = 0x8000_0000;
const ram = (): GuestMemoryMmap => GuestMemoryMmap.fromRanges([[RAM, 1 << 20]]);
const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);

function expectLoaderError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LoaderError);
  expect((caught as LoaderError).code).toBe(code);
}

describe('loadElf', () => {
  for (const cls of [32, 64] as const) {
    it(`ELF${cls}: segments, bss zeroed, entry and symbols, from bytes and from an fd`, () => {
      const image = buildElf({
        cls,
        entry: RAM + 0x40,
        segments: [
          { addr: RAM, data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
          { addr: RAM + 0x1000, data: bytes(9, 9), memsz: 0x100, flags: 6 },
        ],
        symbols: { tohost: RAM + 0x1000, fromhost: RAM + 0x1040 },
      });
      for (const how of ['bytes', 'fd'] as const) {
        const mem = ram();
        mem.writeSlice(new Uint8Array(0x200).fill(0xee), RAM + 0x1000); // bss must be zeroed
        let elf;
        if (how === 'bytes') elf = loadElf(mem, { bytes: image });
        else {
          const { path, fd } = tempFile();
          writeFileSync(path, image);
          elf = loadElf(mem, { fd });
          closeSync(fd);
        }
        expect(elf.class).toBe(cls);
        expect(elf.entry).toBe(RAM + 0x40);
        expect(elf.symbols.get('tohost')).toBe(RAM + 0x1000);
        expect(elf.segments.map((s) => [s.addr, s.size, s.fileSize, s.flags])).toEqual([
          [RAM, 8, 8, 5],
          [RAM + 0x1000, 0x100, 2, 6],
        ]);
        expect([elf.low, elf.high]).toEqual([RAM, RAM + 0x1100]);
        expect(mem.load(u32, RAM + 4)).toBe(0x08070605);
        const bss = new Uint8Array(0x100);
        mem.readSlice(bss, RAM + 0x1000);
        expect([...bss.subarray(0, 3)]).toEqual([9, 9, 0]);
        expect(bss.every((b, i) => i < 2 || b === 0)).toBe(true);
        expect(mem.load(u32, RAM + 0x1100)).toBe(0xeeeeeeee); // past memsz: untouched
      }
    });
  }

  it('refuses bad images before writing anything', () => {
    const ok = (segments = [{ addr: RAM, data: bytes(1, 2, 3, 4) }]) => buildElf({ cls: 64, entry: RAM, segments });
    const mem = ram();
    expectLoaderError(() => loadElf(mem, { bytes: bytes(1, 2, 3) }), 'ERR_LOADER_TRUNCATED');
    expectLoaderError(() => loadElf(mem, { bytes: new Uint8Array(64) }), 'ERR_LOADER_FORMAT');
    const be = ok();
    be[5] = 2;
    expectLoaderError(() => loadElf(mem, { bytes: be }), 'ERR_LOADER_FORMAT');
    expectLoaderError(() => loadElf(mem, { bytes: ok().subarray(0, 70) }), 'ERR_LOADER_TRUNCATED');
    const cut = ok([{ addr: RAM, data: new Uint8Array(256).fill(7) }]);
    expectLoaderError(() => loadElf(mem, { bytes: cut.subarray(0, cut.length - 200) }), 'ERR_LOADER_TRUNCATED');
    const outside = ok([
      { addr: RAM, data: bytes(5) },
      { addr: RAM + (1 << 20) - 2, data: bytes(1, 2, 3, 4) },
    ]);
    expectLoaderError(() => loadElf(mem, { bytes: outside }), 'ERR_LOADER_OUTSIDE_RAM');
    expectLoaderError(() => loadElf(mem, { bytes: ok([{ addr: 0x1000, data: bytes(1) }]) }), 'ERR_LOADER_OUTSIDE_RAM');
    const overlap = ok([
      { addr: RAM, data: bytes(1, 2, 3, 4) },
      { addr: RAM + 2, data: bytes(1, 2) },
    ]);
    expectLoaderError(() => loadElf(mem, { bytes: overlap }), 'ERR_LOADER_OVERLAP');
    expect(mem.load(u32, RAM)).toBe(0); // nothing was written by any of them
    expect(() => loadElf(mem, null as never)).toThrow(TypeError);
  });

  const test = '../../../shared/riscv/tests-p/rv64ui-p-add';
  const path = new URL(test, import.meta.url);
  it.runIf(existsSync(path))('loads an official riscv-test and finds tohost', () => {
    const mem = GuestMemoryMmap.fromRanges([[RAM, 1 << 20]]);
    const fd = openSync(path, 'r');
    const elf = loadElf(mem, { fd });
    closeSync(fd);
    expect(elf.machine).toBe(243);
    expect(elf.entry).toBe(RAM);
    expect(elf.symbols.has('tohost')).toBe(true);
  });
  if (!existsSync(path)) console.log(`skipped the riscv-tests load: ${test} is absent`);
});

describe('loadElf symbol tables', () => {
  it('a symbol table with entries smaller than an Elf_Sym is ERR_LOADER_FORMAT, not a RangeError', () => {
    for (const cls of [32, 64] as const) {
      const elf = buildElf({
        cls,
        entry: RAM,
        segments: [{ addr: RAM, data: bytes(1, 2, 3, 4) }],
        symbols: { tohost: RAM },
      });
      const dv = new DataView(elf.buffer);
      const shoff = cls === 64 ? Number(dv.getBigUint64(40, true)) : dv.getUint32(32, true);
      const shentsize = cls === 64 ? 64 : 40;
      for (const entsize of [1, 8, cls === 64 ? 23 : 15]) {
        const at = shoff + shentsize + (cls === 64 ? 56 : 36); // section 1 (.symtab): sh_entsize
        if (cls === 64) dv.setBigUint64(at, BigInt(entsize), true);
        else dv.setUint32(at, entsize, true);
        expectLoaderError(() => loadElf(ram(), { bytes: elf }), 'ERR_LOADER_FORMAT');
      }
    }
  });

  it(`leaves out symbols whose names are longer than MAX_SYMBOL_NAME (${MAX_SYMBOL_NAME}) bytes`, () => {
    const long = 'x'.repeat(MAX_SYMBOL_NAME + 1);
    const fits = 'y'.repeat(MAX_SYMBOL_NAME);
    const elf = buildElf({
      cls: 64,
      entry: RAM,
      segments: [{ addr: RAM, data: bytes(1) }],
      symbols: { tohost: RAM + 8, [long]: RAM + 16, [fits]: RAM + 24 },
    });
    const got = loadElf(ram(), { bytes: elf }).symbols;
    expect([...got.keys()].sort()).toEqual([fits, 'tohost'].sort());
    // an unterminated string table: the last name runs to the end and is left out
    const cut = elf.slice();
    const dv = new DataView(cut.buffer);
    const shoff = Number(dv.getBigUint64(40, true));
    const strSize = shoff + 2 * 64 + 32; // section 2 (.strtab): sh_size
    dv.setBigUint64(strSize, dv.getBigUint64(strSize, true) - 1n, true);
    expect([...loadElf(ram(), { bytes: cut }).symbols.keys()]).not.toContain(fits);
  });
});

describe('loadRaw', () => {
  it('copies a whole image at an address, from bytes or an fd; refuses one that does not fit', () => {
    const mem = ram();
    expect(loadRaw(mem, { bytes: bytes(1, 2, 3, 4) }, RAM + 8)).toEqual({
      addr: RAM + 8,
      entry: RAM + 8,
      end: RAM + 12,
      size: 4,
    });
    expect(mem.load(u32, RAM + 8)).toBe(0x04030201);
    const { path, fd } = tempFile();
    writeFileSync(path, bytes(9, 8, 7, 6));
    loadRaw(mem, { fd }, RAM);
    closeSync(fd);
    expect(mem.load(u32, RAM)).toBe(0x06070809);
    expectLoaderError(() => loadRaw(mem, { bytes: new Uint8Array(16) }, RAM + (1 << 20) - 8), 'ERR_LOADER_OUTSIDE_RAM');
  });
});
