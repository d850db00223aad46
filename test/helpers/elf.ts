// Builds small little-endian ELF executables for loader tests: PT_LOAD segments with file
// bytes and bss, and a .symtab/.strtab with named symbols.
export interface SegmentSpec {
  addr: number;
  data: Uint8Array;
  memsz?: number;
  flags?: number;
}

export function buildElf(opts: {
  cls: 32 | 64;
  entry: number;
  segments: SegmentSpec[];
  symbols?: Record<string, number>;
  machine?: number;
}): Uint8Array {
  const is64 = opts.cls === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const syms = Object.entries(opts.symbols ?? {});
  // string table: "\0name1\0name2\0"
  const names: number[] = [];
  let strtab = '\0';
  for (const [n] of syms) {
    names.push(strtab.length);
    strtab += n + '\0';
  }
  const symsize = is64 ? 24 : 16;
  let off = ehsize + phentsize * opts.segments.length;
  const segOffs = opts.segments.map((s) => {
    const o = off;
    off += s.data.length;
    return o;
  });
  const symOff = off;
  off += symsize * (syms.length + 1);
  const strOff = off;
  off += strtab.length;
  off = Math.ceil(off / 8) * 8;
  const shOff = off;
  const shnum = syms.length > 0 ? 3 : 0;
  const total = shOff + shentsize * shnum;
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  const word = (o: number, v: number): void => {
    if (is64) dv.setBigUint64(o, BigInt(v), true);
    else dv.setUint32(o, v, true);
  };
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], 0);
  dv.setUint16(16, 2, true);
  dv.setUint16(18, opts.machine ?? 243, true);
  dv.setUint32(20, 1, true);
  word(24, opts.entry);
  word(is64 ? 32 : 28, ehsize);
  word(is64 ? 40 : 32, shnum ? shOff : 0);
  dv.setUint16(is64 ? 52 : 40, ehsize, true);
  dv.setUint16(is64 ? 54 : 42, phentsize, true);
  dv.setUint16(is64 ? 56 : 44, opts.segments.length, true);
  dv.setUint16(is64 ? 58 : 46, shentsize, true);
  dv.setUint16(is64 ? 60 : 48, shnum, true);
  opts.segments.forEach((s, i) => {
    const p = ehsize + i * phentsize;
    dv.setUint32(p, 1, true);
    if (is64) {
      dv.setUint32(p + 4, s.flags ?? 5, true);
      word(p + 8, segOffs[i]!);
      word(p + 16, s.addr);
      word(p + 24, s.addr);
      word(p + 32, s.data.length);
      word(p + 40, s.memsz ?? s.data.length);
    } else {
      word(p + 4, segOffs[i]!);
      word(p + 8, s.addr);
      word(p + 12, s.addr);
      word(p + 16, s.data.length);
      word(p + 20, s.memsz ?? s.data.length);
      dv.setUint32(p + 24, s.flags ?? 5, true);
    }
    b.set(s.data, segOffs[i]!);
  });
  syms.forEach(([, value], i) => {
    const o = symOff + (i + 1) * symsize;
    dv.setUint32(o, names[i]!, true);
    if (is64) dv.setBigUint64(o + 8, BigInt(value), true);
    else dv.setUint32(o + 4, value, true);
  });
  b.set(new TextEncoder().encode(strtab), strOff);
  if (shnum) {
    const sh = (i: number, type: number, offset: number, size: number, link: number, entsize: number): void => {
      const o = shOff + i * shentsize;
      dv.setUint32(o + 4, type, true);
      word(o + (is64 ? 24 : 16), offset);
      word(o + (is64 ? 32 : 20), size);
      dv.setUint32(o + (is64 ? 40 : 24), link, true);
      word(o + (is64 ? 56 : 36), entsize);
    };
    sh(1, 2, symOff, symsize * (syms.length + 1), 2, symsize);
    sh(2, 3, strOff, strtab.length, 0, 0);
  }
  return b;
}
