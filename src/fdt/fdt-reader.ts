import { FdtError } from './fdt-error.js';

/** One node of a parsed device tree. */
export interface FdtTreeNode {
  /** The node's name (`""` for the root), unit address included. */
  readonly name: string;
  /** Its properties in blob order: raw values (decode with {@link fdtCells} / {@link fdtStrings}). */
  readonly props: ReadonlyMap<string, Uint8Array>;
  /** Its child nodes in blob order. */
  readonly children: readonly FdtTreeNode[];
}

/** A parsed flattened device tree. */
export interface FdtTree {
  /** The root node. */
  readonly root: FdtTreeNode;
  /** The memory reservation block: [address, size] pairs. */
  readonly reserved: readonly (readonly [bigint, bigint])[];
  /** The header's boot_cpuid_phys. */
  readonly bootCpuid: number;
}

/** Nodes nest at most this deep in a blob `parseFdt` accepts. */
export const FDT_MAX_DEPTH = 64;

/**
 * Parses a flattened device tree (version 16 or 17): every offset and length is checked
 * against the blob, so a damaged or hostile blob is an FdtError ERR_FDT_FORMAT, never a
 * RangeError or a hang (at most one pass over the structure block, nesting at most
 * FDT_MAX_DEPTH deep).
 */
export function parseFdt(blob: Uint8Array): FdtTree {
  const bad = (why: string): FdtError => new FdtError('ERR_FDT_FORMAT', why);
  if (!(blob instanceof Uint8Array)) throw bad('not bytes');
  if (blob.length < 40) throw bad('shorter than a header');
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.length);
  const h = (i: number): number => dv.getUint32(4 * i);
  if (h(0) !== 0xd00dfeed) throw bad('no FDT magic');
  const [total, structOff, stringsOff, rsvOff, version, , bootCpuid, stringsSize, structSize] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9,
  ].map(h) as [number, number, number, number, number, number, number, number, number];
  if (version < 16) throw bad(`version ${version}`);
  if (total > blob.length) throw bad(`totalsize ${total} past the blob's ${blob.length} bytes`);
  const within = (off: number, len: number): boolean => off <= total && len <= total - off;
  if (!within(structOff, structSize) || !within(stringsOff, stringsSize) || rsvOff % 8 !== 0 || !within(rsvOff, 16))
    throw bad('a block outside the blob');
  const reserved: [bigint, bigint][] = [];
  for (let at = rsvOff; ; at += 16) {
    if (!within(at, 16)) throw bad('an unterminated memory reservation block');
    const a = dv.getBigUint64(at);
    const s = dv.getBigUint64(at + 8);
    if (a === 0n && s === 0n) break;
    reserved.push([a, s]);
  }
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const end = structOff + structSize;
  let p = structOff;
  const word = (): number => {
    if (p + 4 > end) throw bad('the structure block ends inside a token');
    const v = dv.getUint32(p);
    p += 4;
    return v;
  };
  const cstring = (from: number, limit: number): string => {
    const z = blob.subarray(from, limit).indexOf(0);
    if (z < 0) throw bad('an unterminated name');
    return decoder.decode(blob.subarray(from, from + z));
  };
  type Building = { name: string; props: Map<string, Uint8Array>; children: Building[] };
  const stack: Building[] = [];
  let root: Building | null = null;
  for (;;) {
    const token = word();
    if (token === 4) continue; // FDT_NOP
    if (token === 1) {
      const name = cstring(p, end);
      p += (new TextEncoder().encode(name).length + 1 + 3) & ~3;
      if (p > end) throw bad('a node name past the structure block');
      if (stack.length >= FDT_MAX_DEPTH) throw bad(`nodes nested deeper than ${FDT_MAX_DEPTH}`);
      const node: Building = { name, props: new Map(), children: [] };
      if (stack.length === 0) {
        if (root !== null) throw bad('a second root node');
        root = node;
      } else stack.at(-1)!.children.push(node);
      stack.push(node);
    } else if (token === 2) {
      if (stack.length === 0) throw bad('FDT_END_NODE outside any node');
      stack.pop();
    } else if (token === 3) {
      if (stack.length === 0) throw bad('a property outside any node');
      const len = word();
      const nameoff = word();
      if (len > end - p) throw bad('a property value past the structure block');
      if (nameoff >= stringsSize) throw bad('a property name outside the strings block');
      const name = cstring(stringsOff + nameoff, stringsOff + stringsSize);
      stack.at(-1)!.props.set(name, blob.slice(p, p + len));
      p += (len + 3) & ~3;
      if (p > end) throw bad('a property value past the structure block');
    } else if (token === 9) {
      if (stack.length > 0 || root === null) throw bad('FDT_END inside a node or before the root');
      break;
    } else throw bad(`token ${token} at ${p - 4}`);
  }
  const freeze = (b: Building): FdtTreeNode => ({ name: b.name, props: b.props, children: b.children.map(freeze) });
  return { root: freeze(root), reserved, bootCpuid };
}

/** A property value as big-endian 32-bit cells. Throws FdtError ERR_FDT_FORMAT if its length is not a multiple of 4. */
export function fdtCells(value: Uint8Array): number[] {
  if (value.length % 4 !== 0) throw new FdtError('ERR_FDT_FORMAT', `a ${value.length}-byte value is not cells`);
  const dv = new DataView(value.buffer, value.byteOffset, value.length);
  return Array.from({ length: value.length / 4 }, (_, i) => dv.getUint32(4 * i));
}

/** A property value as its NUL-terminated strings. */
export function fdtStrings(value: Uint8Array): string[] {
  const s = new TextDecoder().decode(value);
  return s.endsWith('\0') ? s.slice(0, -1).split('\0') : s.split('\0');
}
