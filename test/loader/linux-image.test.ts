// The Linux Image loader (RISC-V and arm64 headers), initrd placement and the kernel command
// line builder: where things land, the header's fields, and bad images refused before a write.
import { existsSync, openSync, closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestMemoryMmap, KernelCmdline, LoaderError, loadInitrd, loadLinuxImage, u32 } from '../../src/index.js';

const RAM = 0x8000_0000;
const MIB = 1 << 20;

function image(opts: {
  magic?: number;
  textOffset?: number;
  imageSize?: number;
  flags?: number;
  body?: number;
}): Uint8Array {
  const b = new Uint8Array(64 + (opts.body ?? 4096));
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x1234_5678, true); // code0
  dv.setBigUint64(8, BigInt(opts.textOffset ?? 0x20_0000), true);
  dv.setBigUint64(16, BigInt(opts.imageSize ?? 3 * 4096 + 64), true);
  dv.setBigUint64(24, BigInt(opts.flags ?? 0), true);
  dv.setUint32(56, opts.magic ?? 0x05435352, true);
  return b;
}

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LoaderError);
    return (e as LoaderError).code;
  }
  return 'none';
};

describe('loadLinuxImage', () => {
  it('loads at ramBase + text_offset and reports the header: RISC-V and arm64', () => {
    const mem = GuestMemoryMmap.fromRanges([[RAM, 16 * MIB]]);
    const k = loadLinuxImage(mem, { bytes: image({}) }, { ramBase: RAM });
    expect(k).toMatchObject({ arch: 'riscv', addr: RAM + 0x20_0000, entry: RAM + 0x20_0000, textOffset: 0x20_0000 });
    expect(k.end).toBe(k.addr + 3 * 4096 + 64);
    expect(mem.load(u32, k.addr)).toBe(0x1234_5678);
    const a = loadLinuxImage(mem, { bytes: image({ magic: 0x644d5241, textOffset: 0x8_0000 }) }, { ramBase: RAM });
    expect(a.arch).toBe('arm64');
    expect(a.addr).toBe(RAM + 0x8_0000);
    // an explicit, 2 MiB aligned load address
    expect(loadLinuxImage(mem, { bytes: image({}) }, { ramBase: RAM, addr: RAM + 4 * MIB }).addr).toBe(RAM + 4 * MIB);
  });

  it('refuses bad images before writing a byte', () => {
    const mem = GuestMemoryMmap.fromRanges([[RAM, 4 * MIB]]);
    expect(code(() => loadLinuxImage(mem, { bytes: image({ magic: 0 }) }, { ramBase: RAM }))).toBe('ERR_LOADER_FORMAT');
    expect(code(() => loadLinuxImage(mem, { bytes: new Uint8Array(63) }, { ramBase: RAM }))).toBe(
      'ERR_LOADER_TRUNCATED',
    );
    expect(code(() => loadLinuxImage(mem, { bytes: image({ magic: 0x644d5241, flags: 1 }) }, { ramBase: RAM }))).toBe(
      'ERR_LOADER_FORMAT',
    );
    expect(code(() => loadLinuxImage(mem, { bytes: image({ imageSize: 100 }) }, { ramBase: RAM }))).toBe(
      'ERR_LOADER_FORMAT',
    );
    // image_size (bss included) past the end of RAM, although the file would fit
    expect(code(() => loadLinuxImage(mem, { bytes: image({ imageSize: 4 * MIB }) }, { ramBase: RAM }))).toBe(
      'ERR_LOADER_OUTSIDE_RAM',
    );
    expect(code(() => loadLinuxImage(mem, { bytes: image({}) }, { ramBase: RAM, addr: RAM + 4096 }))).toBe(
      'ERR_LOADER_FORMAT',
    );
    expect(code(() => loadLinuxImage(mem, { bytes: image({ textOffset: 2 ** 45 }) }, { ramBase: RAM }))).toBe(
      'ERR_LOADER_FORMAT',
    );
    const probe = new Uint8Array(4 * MIB);
    mem.readSlice(probe, RAM);
    expect(probe.every((x) => x === 0)).toBe(true);
  });

  const linux = new URL('../../../shared/riscv/linux/Image', import.meta.url);
  if (!existsSync(linux)) console.log('skipped the Linux 6.1 Image load: ../shared/riscv/linux/Image is absent');
  it.runIf(existsSync(linux))('loads the Linux 6.1 RISC-V Image at RAM + 2 MiB', () => {
    const mem = GuestMemoryMmap.fromRanges([[RAM, 64 * MIB]]);
    const fd = openSync(linux, 'r');
    const k = loadLinuxImage(mem, { fd }, { ramBase: RAM });
    closeSync(fd);
    expect(k.arch).toBe('riscv');
    expect(k.addr).toBe(RAM + 0x20_0000);
    expect(k.imageSize).toBeGreaterThan(2 * MIB);
  });
});

describe('loadInitrd', () => {
  it('goes as high as it fits in the kernel’s region, aligned, never below the kernel', () => {
    const mem = GuestMemoryMmap.fromRanges([[RAM, 8 * MIB]]);
    const rd = loadInitrd(mem, { bytes: new Uint8Array(10_000).fill(7) }, { after: RAM + MIB });
    expect(rd.addr % 4096).toBe(0);
    expect(rd.end).toBe(rd.addr + 10_000);
    expect(rd.end).toBeLessThanOrEqual(RAM + 8 * MIB);
    expect(rd.addr).toBeGreaterThan(RAM + 7 * MIB);
    const low = loadInitrd(mem, { bytes: new Uint8Array(100) }, { after: RAM, below: RAM + 2 * MIB, align: 2 * MIB });
    expect(low.addr).toBe(RAM);
    expect(code(() => loadInitrd(mem, { bytes: new Uint8Array(2 * MIB) }, { after: RAM + 7 * MIB }))).toBe(
      'ERR_LOADER_OUTSIDE_RAM',
    );
    expect(() => loadInitrd(mem, { bytes: new Uint8Array(1) }, { after: RAM, align: 3 })).toThrow(RangeError);
  });
});

describe('KernelCmdline', () => {
  it('joins parameters, quotes values with spaces, refuses bad ones and overflow with the line unchanged', () => {
    const c = new KernelCmdline(56);
    c.insert('console', 'ttyS0').insertFlag('ro').insert('root', '/dev/vda').insert('init', '/bin/sh -l');
    expect(c.toString()).toBe('console=ttyS0 ro root=/dev/vda init="/bin/sh -l"');
    expect([...c.toBytes()].at(-1)).toBe(0);
    const before = c.toString();
    expect(code(() => c.insertFlag('x'.repeat(8)))).toBe('ERR_LOADER_CMDLINE_TOO_LONG');
    expect(code(() => c.insert('bad key', 1))).toBe('ERR_LOADER_FORMAT');
    expect(code(() => c.insert('k', 'a"b'))).toBe('ERR_LOADER_FORMAT');
    expect(code(() => c.insert('k', 'a\0b'))).toBe('ERR_LOADER_FORMAT');
    expect(code(() => c.insertRaw('tab\there é'))).toBe('ERR_LOADER_FORMAT');
    expect(c.toString()).toBe(before);
    expect(new KernelCmdline().insertRaw('  earlycon   quiet ').insert('n', 3).toString()).toBe('earlycon quiet n=3');
  });
});
