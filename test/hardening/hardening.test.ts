// Regression tests for hostile input found by an attacker's review: each fails on the code before
// its fix.
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  array,
  constants,
  f64,
  GuestMemoryAtomic,
  GuestMemoryError,
  GuestMemoryMmap,
  GuestRegionMmap,
  i32,
  liveMappings,
  MmapRegion,
  struct,
  TranslationCache,
  u16,
  u32,
  u64,
  u8,
} from '../../src/index.js';

describe('hardening', () => {
  it('a sparse range list is a coded TypeError, not an uncoded one', () => {
    const refused = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const sparse = (entries: [number, unknown][]): unknown[] => {
      const a = new Array<unknown>(2);
      for (const [i, v] of entries) a[i] = v;
      return a;
    };
    const lists = [sparse([[1, [0, 4096]]]), sparse([[0, [0, 4096]]]), [[0, 4096], sparse([[1, 4096]])]];
    for (const ranges of lists) {
      expect(() => GuestMemoryMmap.fromRanges(ranges as never)).toThrow(refused);
      expect(() => GuestMemoryMmap.fromRangesWithFiles(ranges as never)).toThrow(refused);
    }
  });

  it('fromShared takes protection from the mapping itself, and refuses forged layouts with coded errors', () => {
    const { PROT_READ, PROT_NONE, MAP_PRIVATE, MAP_ANONYMOUS } = constants;
    const ro = MmapRegion.build(null, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    const none = MmapRegion.build(null, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    const rw = MmapRegion.create(8192, { trackDirty: true });
    const mem = GuestMemoryMmap.fromRegions([
      new GuestRegionMmap(ro, 0),
      new GuestRegionMmap(none, 0x1000),
      new GuestRegionMmap(rw, 0x2000),
    ]);
    const refused = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a descriptor being forged has no type
    type Forged = any;
    const forge = (edit: (d: Forged) => void): unknown => {
      const d = structuredClone(mem.share()) as Forged;
      edit(d);
      return d;
    };
    for (const prot of [3, '3', 7]) {
      for (const i of [0, 1]) {
        const d = forge((d) => (d.regions[i].mapping.prot = prot));
        expect(() => GuestMemoryMmap.fromShared(d as never)).toThrow(refused);
      }
    }
    // a plain heap SharedArrayBuffer, a forged host address, one buffer at two guest bases
    expect(() =>
      GuestMemoryMmap.fromShared(forge((d) => (d.regions[2].mapping.buffer = new SharedArrayBuffer(8192))) as never),
    ).toThrow(refused);
    expect(() =>
      GuestMemoryMmap.fromShared(forge((d) => (d.regions[2].mapping.hostAddress += 4096n)) as never),
    ).toThrow(refused);
    expect(() =>
      GuestMemoryMmap.fromShared(
        forge((d) => {
          d.regions[1].mapping = d.regions[2].mapping;
          d.regions[1].guestBase = 0x4000;
        }) as never,
      ),
    ).toThrow(refused);
    expect(() =>
      GuestMemoryMmap.fromShared(forge((d) => (d.regions[2].mapping.bitmap.byteSize = 4096)) as never),
    ).toThrow(refused);
    expect(() => GuestMemoryMmap.fromShared(forge((d) => (d.regions[2] = null)) as never)).toThrow(refused);
    // a foreign bitmap of the same geometry, a dropped bitmap, a bitmap with another page size,
    // a bitmap given to a mapping that tracks nothing: each would lose or misplace dirty pages
    const other = MmapRegion.create(8192, { trackDirty: true }).toShared().bitmap!;
    const coarse = MmapRegion.create(8192, { trackDirty: 8192 }).toShared().bitmap!;
    expect(() => GuestMemoryMmap.fromShared(forge((d) => (d.regions[2].mapping.bitmap = other)) as never)).toThrow(
      refused,
    );
    expect(() =>
      GuestMemoryMmap.fromShared(forge((d) => (d.regions[2].mapping.bitmap.words = other.words)) as never),
    ).toThrow(refused);
    expect(() => GuestMemoryMmap.fromShared(forge((d) => delete d.regions[2].mapping.bitmap) as never)).toThrow(
      refused,
    );
    expect(() =>
      GuestMemoryMmap.fromShared(
        forge((d) => (d.regions[2].mapping.bitmap = { ...d.regions[2].mapping.bitmap, pageSize: 8192 })) as never,
      ),
    ).toThrow(refused);
    expect(() => GuestMemoryMmap.fromShared(forge((d) => (d.regions[0].mapping.bitmap = coarse)) as never)).toThrow(
      refused,
    );
    // the genuine descriptor still works, with the real protections
    const copy = GuestMemoryMmap.fromShared(structuredClone(mem.share()));
    expect(() => copy.writeObj(u32, 1, 0)).toThrow(expect.objectContaining({ kind: 'AccessDenied' }));
    expect(() => copy.readObj(u32, 0x1000)).toThrow(expect.objectContaining({ kind: 'AccessDenied' }));
    copy.writeObj(u32, 5, 0x2000);
    expect(mem.readObj(u32, 0x2000)).toBe(5);
    // a GuestMemoryAtomic descriptor with a short control buffer: coded, not a bare RangeError
    const atomic = new GuestMemoryAtomic(GuestMemoryMmap.fromRanges([[0, 4096]]));
    for (const bytes of [0, 1, 4]) {
      const d = { ...atomic.share(), control: new SharedArrayBuffer(bytes) };
      expect(() => GuestMemoryAtomic.fromShared(d)).toThrow(refused);
    }
    atomic.close?.();
  });

  it('a share() descriptor carries a protected mapping as a token the receiving thread opens', async () => {
    const { PROT_READ, PROT_NONE, MAP_PRIVATE, MAP_ANONYMOUS } = constants;
    const ro = MmapRegion.build(null, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    const none = MmapRegion.build(null, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    const mem = GuestMemoryMmap.fromRegions([new GuestRegionMmap(ro, 0x1000), new GuestRegionMmap(none, 0x2000)]);
    const d = mem.share();
    for (const r of d.regions) {
      expect(r.mapping.buffer).toBeUndefined();
      expect(r.mapping.token).toBeInstanceOf(SharedArrayBuffer);
    }
    const worker = new Worker(new URL('../fixtures/protected-worker.mjs', import.meta.url), {
      workerData: { memory: d, ro: 0x1000, none: 0x2000 },
    });
    try {
      const got = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(got).toEqual({
        read: { value: 0 },
        write: { kind: 'AccessDenied', name: 'GuestMemoryError' },
        none: { kind: 'AccessDenied', name: 'GuestMemoryError' },
        hasBuffer: false,
      });
    } finally {
      await worker.terminate();
    }
    // forged tokens, a token in place of a buffer's mapping and a raw buffer for a protected one
    const refused = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const forged = structuredClone(d) as unknown as { regions: { mapping: Record<string, unknown> }[] };
    for (const fake of [new SharedArrayBuffer(8), new SharedArrayBuffer(4096), 'token', null]) {
      forged.regions[0]!.mapping.token = fake;
      expect(() => GuestMemoryMmap.fromShared(forged as never)).toThrow(refused);
    }
    // one token at two guest bases is the same mapping twice
    const twice = { ...d, regions: [d.regions[0]!, { ...d.regions[0]!, guestBase: 0x8000 }] };
    expect(() => GuestMemoryMmap.fromShared(twice as never)).toThrow(refused);
  });

  it('a token keeps its mapping mapped until the last token and view are gone, then it unmaps once', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const { PROT_READ, MAP_PRIVATE, MAP_ANONYMOUS } = constants;
    await settle();
    const before = liveMappings();
    let d: unknown = (() => {
      const ro = MmapRegion.build(null, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
      return structuredClone(GuestMemoryMmap.fromRegions([new GuestRegionMmap(ro, 0)]).share());
    })();
    await settle();
    expect(liveMappings()).toBe(before + 1); // only the token holds it now
    let again: GuestMemoryMmap | undefined = GuestMemoryMmap.fromShared(d as never);
    expect(again.load(u32, 0)).toBe(0);
    d = undefined;
    await settle();
    expect(liveMappings()).toBe(before + 1); // the rebuilt map holds it
    expect(again.load(u32, 0)).toBe(0);
    again = undefined;
    await settle();
    expect(liveMappings()).toBe(before); // and nothing else: unmapped
  });

  it('no public object leads to a view or buffer of a read-only or PROT_NONE mapping', () => {
    // Distinct sizes: a view found by the walk is recognised by its buffer's length.
    const { PROT_READ, PROT_NONE, MAP_PRIVATE, MAP_ANONYMOUS } = constants;
    const RO = 3 * 4096;
    const NONE = 5 * 4096;
    const ro = MmapRegion.build(null, RO, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, { trackDirty: true });
    const none = MmapRegion.build(null, NONE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    const mem = GuestMemoryMmap.fromRegions([new GuestRegionMmap(ro, 0x10000), new GuestRegionMmap(none, 0x20000)]);
    const atomic = new GuestMemoryAtomic(mem);
    const tc = new TranslationCache(atomic);
    const roots: unknown[] = [
      mem,
      atomic,
      tc,
      tc.lookup(0x10000, false),
      tc.lookup(0x20000, false),
      ro,
      none,
      [...mem],
      mem.getSlice(0x10000, 64),
      mem.getSlice(0x20000, 64),
      ro.getRef(u32, 8),
      ro.getArrayRef(u16, 16, 4),
      none.getRef(u32, 8),
      ro.asVolatileSlice().subslice(8, 16),
      mem.withMisaligned('split'),
      // share() descriptors too: protected mappings travel as tokens, never as their buffer
      mem.share(),
      structuredClone(mem.share()),
      atomic.share(),
      ro.toShared(),
      none.toShared(),
      GuestMemoryMmap.fromShared(mem.share()),
    ];
    const found: string[] = [];
    const seen = new Set<unknown>();
    const walk = (value: unknown, path: string, depth: number): void => {
      if (typeof value !== 'object' || value === null || seen.has(value) || depth > 8) return;
      seen.add(value);
      const raw =
        value instanceof SharedArrayBuffer
          ? value
          : ArrayBuffer.isView(value)
            ? (value.buffer as ArrayBufferLike)
            : null;
      if (raw !== null && (raw.byteLength === RO || raw.byteLength === NONE)) found.push(path);
      if (raw !== null) return;
      // own data properties, then every getter along the prototype chain (called on the object)
      for (const key of Reflect.ownKeys(value)) {
        const d = Object.getOwnPropertyDescriptor(value, key)!;
        if ('value' in d) walk(d.value, `${path}.${String(key)}`, depth + 1);
      }
      for (let p = Object.getPrototypeOf(value); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
        for (const key of Reflect.ownKeys(p)) {
          const d = Object.getOwnPropertyDescriptor(p, key)!;
          if (d.get === undefined) continue;
          let got: unknown;
          try {
            got = d.get.call(value);
          } catch {
            continue; // e.g. MmapRegion.buffer refuses a mapping that is not read-write
          }
          walk(got, `${path}.${String(key)}`, depth + 1);
        }
      }
    };
    roots.forEach((r, i) => walk(r, `root${i}`, 0));
    expect(found).toEqual([]);
    expect(() => ro.buffer).toThrow(expect.objectContaining({ kind: 'AccessDenied' }));
    // the public fields that describe a mapping cannot be changed
    expect(() => {
      (ro as { prot: number }).prot = 3;
    }).toThrow(TypeError);
    expect(ro.prot).toBe(PROT_READ);
    atomic.close();
  });

  it('forged value types are refused (ERR_INVALID_ARG_TYPE) by every accessor, and nothing is written', () => {
    const ro = MmapRegion.build(null, 4096, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS);
    const mem = GuestMemoryMmap.fromRanges([[0x1000, 0x1000]]);
    const ctor = u32.constructor as new (...args: unknown[]) => unknown;
    const forged: unknown[] = [
      { ...u32, size: -1 },
      { size: -1, scalar: 4, atomic: true, atomicScalar: 4, plainScalar: 4, align: 1, name: 'u32' },
      Object.create(u32, { size: { value: -1 } }),
      Object.create(u64, { size: { value: 1 } }),
      Object.create(f64, { size: { value: 1 } }),
      { ...f64, size: 1 },
    ];
    expect(() => new ctor(Symbol('x'), 'evil', -1, 1, 4, true, 0, [], null, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    const before = mem.readObj(array(u8, 0x1000), 0x1000);
    const slice = mem.getSlice(0x1000, 1);
    const region = [...mem][0]!;
    const refused = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    for (const t of forged) {
      const T = t as typeof u32;
      expect(() => mem.store(T, 7, 0x1000)).toThrow(refused);
      expect(() => mem.load(T, 0x1000)).toThrow(refused);
      expect(() => mem.readObj(T, 0x1000)).toThrow(refused);
      expect(() => mem.writeObj(T, 7, 0x1000)).toThrow(refused);
      expect(() => mem.readUnordered(T, 0x1000)).toThrow(refused);
      expect(() => mem.writeUnordered(T, 7, 0x1000)).toThrow(refused);
      expect(() => mem.fetchAdd(T, 0x1000, 1)).toThrow(refused);
      expect(() => mem.compareExchange(T, 0x1000, 0, 1)).toThrow(refused);
      expect(() => region.writeObj(T, 7, 0)).toThrow(refused);
      expect(() => slice.writeObj(T, 7, 0)).toThrow(refused);
      expect(() => slice.readObj(T, 0)).toThrow(refused);
      expect(() => slice.store(T, 7, 0)).toThrow(refused);
      expect(() => ro.asVolatileSlice().writeObj(T, 7, 0)).toThrow(refused);
      expect(() => ro.asVolatileSlice().readObj(T, 0)).toThrow(refused);
      expect(() => slice.getRef(T, 0)).toThrow(refused);
      expect(() => struct([['a', T]])).toThrow(refused);
      expect(() => array(T, 2)).toThrow(refused);
    }
    expect(mem.readObj(array(u8, 0x1000), 0x1000)).toEqual(before);
    // the genuine ones, composites included, still work
    const S = struct([
      ['a', u16],
      ['b', u32],
    ]);
    mem.writeObj(S, { a: 1, b: 2 }, 0x1000);
    expect(mem.readObj(S, 0x1000)).toEqual({ a: 1, b: 2 });
    expect(Object.isFrozen(u32) && Object.isFrozen(S)).toBe(true);
  });

  it('mmap flags and prot outside the documented allow-lists are refused before mmap (ERR_OUT_OF_RANGE)', () => {
    const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE } = constants;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS;
    for (const prot of [-1, 0x7fffffff, 8, 0x10]) {
      expect(() => MmapRegion.build(null, 4096, prot, flags)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
    }
    // MAP_GROWSDOWN (0x100), MAP_LOCKED (0x2000), MAP_STACK (0x20000), MAP_SYNC (0x80000), bit 23
    for (const extra of [0x100, 0x2000, 0x20000, 0x80000, 0x800000]) {
      expect(() => MmapRegion.build(null, 4096, PROT_READ | PROT_WRITE, flags | extra)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
    }
    expect(() => MmapRegion.build(null, 4096, PROT_READ, flags | MAP_FIXED_NOREPLACE)).toThrow(
      expect.objectContaining({ kind: 'MapFixed' }),
    );
    // every allowed flag and prot still maps
    const r = MmapRegion.build(
      null,
      4096,
      PROT_READ | PROT_WRITE,
      flags | constants.MAP_NORESERVE | constants.MAP_POPULATE,
    );
    expect(r.size).toBe(4096);
    expect(MmapRegion.build(null, 4096, constants.PROT_NONE, flags).prot).toBe(0);
  });

  it('VolatileArrayRef.copyFrom reads each element once (a getter cannot pass the check and write another value)', () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    const ref = mem.getSlice(0, 16).getArrayRef(u32, 0, 2);
    let reads = 0;
    const hostile = {
      length: 2,
      get 0() {
        reads++;
        return reads === 1 ? 7 : 2 ** 40 + 5;
      },
      1: 1,
    };
    ref.copyFrom(hostile as unknown as ArrayLike<number>);
    expect(reads).toBe(1);
    expect(mem.load(u32, 0)).toBe(7);
  });

  it("struct refuses a '__proto__' field (readObj would drop it)", () => {
    expect(() => struct([['__proto__', u32]])).toThrow(TypeError);
    expect(() =>
      struct([
        ['a', u8],
        ['__proto__', u32],
      ]),
    ).toThrow(/__proto__/);
  });

  it("errno names come from libuv (not 'EUNKNOWN')", () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    let caught: unknown;
    try {
      mem.readFrom(0, 2 ** 31 - 2, 4); // no such descriptor
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GuestMemoryError);
    expect((caught as Error).message).toContain('EBADF');
  });

  it('ESPIPE (absent from the old hand-made list) is named: pread on a pipe', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 2000)'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    expect(() => mem.writeTo(0, fd, 4, 0)).toThrow(/ESPIPE/);
    child.kill();
  });

  it('waitAsync beside wait: not-equal at once, timed-out, or woken by notify without blocking', async () => {
    const mem = GuestMemoryMmap.fromRanges([[0, 4096]]);
    mem.store(i32, 5, 0x40);
    expect(await mem.waitAsync(i32, 0x40, 4)).toBe('not-equal');
    expect(await mem.waitAsync(i32, 0x40, 5, 1)).toBe('timed-out');
    const woken = mem.waitAsync(i32, 0x40, 5, 5000);
    setTimeout(() => mem.notify(0x40), 5);
    expect(await woken).toBe('ok');
    expect(() => mem.waitAsync(u32, 0x40, 5)).toThrow(TypeError);
    expect(() => mem.waitAsync(i32, 0x42, 5)).toThrow(GuestMemoryError);
  });
});
