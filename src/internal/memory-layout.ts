/**
 * The layout side of GuestMemoryMmap: the rules a map's regions follow (checked in vm-memory's
 * order before anything is mapped), the region table its fast paths index, and the regions a
 * map is built from (ranges, files, existing regions, a descriptor from another thread), and
 * the dirty pages over all of them. The class keeps only its constructor and hot paths.
 */
import { checkIndex, MAX_SAFE, typeError } from './args.js';
import { GuestMemoryError } from '../errors.js';
import { hex, invalidGuestRegion } from './errs.js';
import { spanOf, type Span } from './byte-window.js';
import { FileOffset } from '../file-offset.js';
import { GuestRegionMmap } from '../guest-region.js';
import { emptyMapping, MmapRegion, type MappingOptions, type SharedMapping } from '../mmap-region.js';

/** The register accessors' misalignment policy: throw Misaligned, or split the access into bytes. */
export type MisalignedPolicy = 'fault' | 'split';

/** The structured-clone-safe form of a GuestMemoryMmap (see `GuestMemoryMmap.share`). */
export interface SharedGuestMemory {
  /** Tags the descriptor for `GuestMemoryMmap.fromShared`. */
  readonly descriptor: 'guestmem.GuestMemoryMmap';
  /** The register accessors' misalignment policy, carried to the receiving thread. */
  readonly misaligned?: MisalignedPolicy;
  /** Each region: its guest base and its shared mapping. */
  readonly regions: readonly {
    /** Guest-physical base of the region. */
    readonly guestBase: number;
    /** Its mapping. */
    readonly mapping: SharedMapping;
  }[];
}

/** A region of length 0 that no address hits; its span is what a lookup returns for unmapped addresses. */
export const NO_SPAN: Span = spanOf(new GuestRegionMmap(emptyMapping(), 0));

/** Checks the layout rules in vm-memory's order; `spans` are [start, size] sorted as given. */
function checkLayout(spans: readonly (readonly [number, number])[]): void {
  if (spans.length === 0) throw new GuestMemoryError('NoMemoryRegion', 'no memory region was given');
  for (let i = 1; i < spans.length; i++) {
    const [ps, pl] = spans[i - 1]!;
    const [ns] = spans[i]!;
    if (ps > ns) {
      throw new GuestMemoryError('UnsortedMemoryRegions', `region at ${hex(ns)} comes after the region at ${hex(ps)}`);
    }
    if (ps + Math.max(pl, 1) - 1 >= ns) {
      throw new GuestMemoryError(
        'MemoryRegionOverlap',
        `region at ${hex(ns)} overlaps the region at ${hex(ps)} (${hex(pl)} bytes)`,
      );
    }
  }
}

function checkRangeList(name: string, ranges: unknown, width: number): unknown[][] {
  if (!Array.isArray(ranges)) throw typeError(name, 'an array of ranges', ranges);
  // Copies, each element read once: holes (a sparse array) become undefined and are refused
  // below, and a getter cannot pass the checks with one value and hand the mmap another.
  return Array.from(ranges as unknown[], (r, i) => {
    if (!Array.isArray(r) || r.length < 2 || r.length > width)
      throw typeError(`${name}[${i}]`, `a [start, size${width === 3 ? ', fileOffset' : ''}] tuple`, r);
    const t = width === 3 ? [r[0], r[1], r[2]] : [r[0], r[1]];
    checkIndex(`${name}[${i}][0]`, t[0]);
    checkIndex(`${name}[${i}][1]`, t[1]);
    if ((t[0] as number) + (t[1] as number) > MAX_SAFE + 1)
      throw invalidGuestRegion(`region at ${hex(t[0] as number)} of ${hex(t[1] as number)} bytes ends past 2^53`);
    return t;
  });
}

/** Anonymous regions at [start, size] ranges, all checked before any is mapped. */
export function rangeRegions(ranges: unknown, options: MappingOptions | undefined): GuestRegionMmap[] {
  const list = checkRangeList('ranges', ranges, 2);
  checkLayout(list as [number, number][]);
  return list.map(([start, size]) => new GuestRegionMmap(MmapRegion.create(size as number, options), start as number));
}

/** Regions at [start, size, FileOffset | undefined] ranges, all checked before any is mapped. */
export function fileRangeRegions(ranges: unknown, options: MappingOptions | undefined): GuestRegionMmap[] {
  const list = checkRangeList('ranges', ranges, 3);
  list.forEach((r, i) => {
    if (r[2] !== undefined && !(r[2] instanceof FileOffset))
      throw typeError(`ranges[${i}][2]`, 'a FileOffset or undefined', r[2]);
  });
  checkLayout(list as [number, number][]);
  return list.map(([start, size, fo]) => {
    const mapping =
      fo === undefined
        ? MmapRegion.create(size as number, options)
        : MmapRegion.fromFile(fo as FileOffset, size as number, options);
    return new GuestRegionMmap(mapping, start as number);
  });
}

/** `regions` checked like ranges (not re-sorted). */
export function checkedRegions(regions: unknown): GuestRegionMmap[] {
  if (!Array.isArray(regions)) throw typeError('regions', 'an array of GuestRegionMmap', regions);
  regions.forEach((r, i) => {
    if (!(r instanceof GuestRegionMmap)) throw typeError(`regions[${i}]`, 'a GuestRegionMmap', r);
  });
  const list = regions as GuestRegionMmap[];
  checkLayout(list.map((r) => [r.startAddr, r.len] as const));
  return list;
}

/** The descriptor `share()` returns for these regions. */
export function shareRegions(regions: readonly GuestRegionMmap[], misaligned: MisalignedPolicy): SharedGuestMemory {
  return {
    descriptor: 'guestmem.GuestMemoryMmap',
    misaligned,
    regions: regions.map((r) => ({ guestBase: r.startAddr, mapping: r.mapping.toShared() })),
  };
}

/** The regions (over the same memory) and policy of a descriptor from `share()`; TypeError for anything else. */
export function sharedRegions(shared: unknown): [GuestRegionMmap[], MisalignedPolicy] {
  const s = shared as Partial<SharedGuestMemory> | null;
  if (typeof s !== 'object' || s === null || s.descriptor !== 'guestmem.GuestMemoryMmap' || !Array.isArray(s.regions)) {
    throw typeError('shared', 'a descriptor from GuestMemoryMmap.share()', shared);
  }
  const seen = new Set<bigint>();
  const regions = Array.from(s.regions, (r, i) => {
    if (typeof r !== 'object' || r === null || typeof r.mapping !== 'object' || r.mapping === null) {
      throw typeError(`shared.regions[${i}]`, 'a shared region', r);
    }
    const mapping = MmapRegion.fromShared(r.mapping, `shared.regions[${i}].mapping`);
    // one mapping at two guest bases would alias guest memory behind the layout checks (by
    // host address: two tokens, or a token and a buffer, can name one mapping)
    if (seen.has(mapping.hostAddress)) {
      throw typeError(`shared.regions[${i}].mapping`, 'a mapping no other region of the map uses', r.mapping);
    }
    seen.add(mapping.hostAddress);
    return new GuestRegionMmap(mapping, r.guestBase);
  });
  if (regions.length > 0) checkLayout(regions.map((r) => [r.startAddr, r.len] as const));
  return [regions, s.misaligned === 'split' ? 'split' : 'fault'];
}

/**
 * The region table of addresses below `limit`, one entry per 2^`shift` bytes: the span of the
 * first region overlapping that slot, or NO_SPAN. An entry may not hold every address of its
 * slot (two regions share it): the fast path's bounds test decides.
 */
export function regionTable(spans: readonly Span[], shift: number, limit: number): Span[] {
  const slot = 2 ** shift;
  // Array.from: a packed array (no hole checks on the fast paths)
  const table = Array.from({ length: limit / slot }, () => NO_SPAN);
  for (const r of spans) {
    if (r.startAddr >= limit || r.len === 0) continue;
    const last = Math.min(r.startAddr + r.len - 1, limit - 1);
    for (let i = Math.floor(r.startAddr / slot); i <= Math.floor(last / slot); i++) {
      if (table[i] === NO_SPAN) table[i] = r;
    }
  }
  return table;
}

/**
 * Guest addresses of the pages marked dirty in `regions` (ascending, as the regions are), each
 * bitmap read and, with `reset`, cleared word by word in one atomic exchange.
 */
export function dirtyPagesOf(regions: readonly GuestRegionMmap[], reset: boolean): number[] {
  const out: number[] = [];
  for (const r of regions) {
    const bm = r.mapping.bitmap;
    if (bm === null) continue;
    for (const p of bm.setPages(reset)) out.push(r.startAddr + p * bm.pageSize);
  }
  return out;
}
