/**
 * Guest memory layout of the default workload (`npm start`), shared by the main thread and the
 * vCPU workers. Like a small PC: low RAM at 0, a hole, high RAM at 4 GiB.
 *
 * Low RAM starts with a control page (named word offsets below), then a table of descriptors
 * the vCPUs read as structs, then one private area per vCPU; high RAM holds a second private
 * area per vCPU, the destination of cross-region copies.
 */
import { struct, u16, u32, u64 } from '../index.js';

export const HIGH_BASE = 0x1_0000_0000;
/** Bytes of private area per vCPU in each region. */
export const AREA = 256 * 1024;
export const PAGE = 4096;

/** Control page words (guest addresses). */
export const CTRL = {
  /** u32: shared counter every vCPU increments atomically (wraps at 2^32). */
  counter: 0x40,
  /** Per-vCPU progress words: vcpuStats + id * STATS_STRIDE, one u32 per op kind. */
  vcpuStats: 0x100,
} as const;
export const STATS_STRIDE = 32;

/** The operation kinds, in the order of the per-vCPU progress words. */
export const OP_KINDS = ['load', 'store', 'atomic', 'copy', 'struct'] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** The descriptor table the vCPUs read with readObj. */
export const Desc = struct([
  ['addr', u64],
  ['len', u32],
  ['flags', u16],
  ['next', u16],
]);
export const DESC_TABLE = 0x1000;
export const DESC_COUNT = 256;

/** What descriptor `i` holds; vCPUs check every struct they read against it. */
export function descriptor(i: number): { addr: bigint; len: number; flags: number; next: number } {
  return { addr: BigInt(HIGH_BASE + i * PAGE), len: i * 16 + 1, flags: i & 0xffff, next: (i + 1) % DESC_COUNT };
}

export const LOW_AREAS = 0x10000;

export function lowArea(id: number): number {
  return LOW_AREAS + id * AREA;
}

export function highArea(id: number): number {
  return HIGH_BASE + id * AREA;
}

/** Bytes each region needs for `vcpus` vCPUs. */
export function regionSizeFor(vcpus: number): number {
  return LOW_AREAS + vcpus * AREA;
}

/** The checksum both sides compute over a vCPU's area (FNV-1a over 32-bit words). */
export function checksum(words: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 16777619) >>> 0;
  return h;
}

/** What a vCPU reports when it stops. */
export interface VcpuReport {
  id: number;
  ops: Record<OpKind, number>;
  atomicIncrements: number;
  copiedBytes: number;
  structErrors: number;
  copyErrors: number;
  checksumLow: number;
  checksumHigh: number;
  /** XOR of every value read (keeps the reads from being optimized away). */
  sink: number;
}
