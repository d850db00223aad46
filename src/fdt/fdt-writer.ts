import { FdtError } from './fdt-error.js';

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_BYTES = 40;
/** Devicetree version written (17), compatible back to 16. */
const VERSION = 17;
const LAST_COMPATIBLE = 16;

const NODE_NAME = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME = /^[A-Za-z0-9,._+?#-]{1,31}$/;

/** A node begun with {@link FdtWriter.beginNode}, to hand back to {@link FdtWriter.endNode}. */
export interface FdtNode {
  /** The node's name (`""` for the root). */
  readonly name: string;
  /** Its depth (0 for the root). */
  readonly depth: number;
}

interface Open {
  node: FdtNode;
  props: Set<string>;
  children: boolean;
}

/**
 * A flattened device tree (devicetree spec v0.4, "Flattened Devicetree (DTB) Format") writer,
 * after rust-vmm's vm-fdt: begin and end nodes in order, add properties to the node begun last
 * (before its children), allocate phandles, reserve memory, then `finish()` the blob (version
 * 17, a memory reservation block, the structure block, and a strings block where each property
 * name appears once). Names and values are checked as they come (FdtError), so a finished blob
 * is always well-formed.
 * @example
 * const fdt = new FdtWriter();
 * const root = fdt.beginNode('');
 * fdt.propertyU32('#address-cells', 2);
 * fdt.propertyString('compatible', 'riscv-virtio');
 * fdt.endNode(root);
 * const dtb = fdt.finish();
 */
export class FdtWriter {
  readonly #struct: number[] = [];
  readonly #strings: number[] = [];
  readonly #stringOffsets = new Map<string, number>();
  readonly #reserved: [bigint, bigint][] = [];
  readonly #stack: Open[] = [];
  readonly #bootCpuid: number;
  #rootDone = false;
  #nextPhandle = 1;
  #finished = false;

  /** `bootCpuid`: the header's boot_cpuid_phys (the boot CPU's physical id, default 0). */
  constructor(options: { readonly bootCpuid?: number } = {}) {
    const id = options.bootCpuid ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new FdtError('ERR_FDT_VALUE', `boot CPU id ${id}`);
    this.#bootCpuid = id;
  }

  /** Adds a memory reservation (address, size in bytes) to the blob's reservation block. */
  reserveMemory(address: number | bigint, size: number | bigint): void {
    this.#reserved.push([u64('reservation address', address), u64('reservation size', size)]);
  }

  /** Begins a node, a child of the node begun last (the first one is the root, named `""`). */
  beginNode(name: string): FdtNode {
    this.#live();
    if (typeof name !== 'string') throw new FdtError('ERR_FDT_NAME', `node name ${String(name)} is not a string`);
    const depth = this.#stack.length;
    if (depth === 0) {
      if (this.#rootDone) throw new FdtError('ERR_FDT_ORDER', 'a second root node');
      if (name !== '') throw new FdtError('ERR_FDT_NAME', `the root node is named "", not "${name}"`);
    } else if (!NODE_NAME.test(name)) throw new FdtError('ERR_FDT_NAME', `node name "${name}"`);
    const parent = this.#stack[depth - 1];
    if (parent) parent.children = true;
    this.#u32(FDT_BEGIN_NODE);
    this.#bytes(utf8z(name));
    this.#pad();
    const node = Object.freeze({ name, depth });
    this.#stack.push({ node, props: new Set(), children: false });
    return node;
  }

  /** Ends `node`, which must be the node begun last and not ended. */
  endNode(node: FdtNode): void {
    this.#live();
    const top = this.#stack.at(-1);
    if (top === undefined || top.node !== node)
      throw new FdtError('ERR_FDT_ORDER', `ending node "${node?.name}" while "${top?.node.name ?? '(none)'}" is open`);
    this.#stack.pop();
    this.#u32(FDT_END_NODE);
    if (this.#stack.length === 0) this.#rootDone = true;
  }

  /** A property with raw bytes (an empty value for a boolean property such as `ranges`). */
  propertyBytes(name: string, value: Uint8Array): void {
    if (!(value instanceof Uint8Array)) throw new FdtError('ERR_FDT_VALUE', `property ${name}: not bytes`);
    const open = this.#propertyStart(name);
    this.#u32(FDT_PROP);
    this.#u32(value.length);
    this.#u32(this.#stringOffset(name));
    this.#bytes(value);
    this.#pad();
    open.props.add(name);
  }

  /** A property without a value (`dma-coherent`, `interrupt-controller`, …). */
  propertyNull(name: string): void {
    this.propertyBytes(name, new Uint8Array(0));
  }

  /** A property of one 32-bit cell. */
  propertyU32(name: string, value: number): void {
    this.propertyCells(name, [value]);
  }

  /** A property of one 64-bit value (two cells, high first). */
  propertyU64(name: string, value: number | bigint): void {
    const v = u64(name, value);
    this.propertyCells(name, [Number(v >> 32n), Number(v & 0xffffffffn)]);
  }

  /** A property of 32-bit cells (`reg`, `interrupts`, `interrupts-extended`, …), big-endian. */
  propertyCells(name: string, cells: readonly number[]): void {
    const b = new Uint8Array(4 * cells.length);
    const dv = new DataView(b.buffer);
    cells.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c > 0xffffffff)
        throw new FdtError('ERR_FDT_VALUE', `property ${name}: cell ${i} is ${c}, not 0 … 2^32-1`);
      dv.setUint32(4 * i, c);
    });
    this.propertyBytes(name, b);
  }

  /** A string property (NUL-terminated in the blob; the string may not contain NUL). */
  propertyString(name: string, value: string): void {
    this.propertyStringList(name, [value]);
  }

  /** A string-list property (`compatible`, …): each string NUL-terminated. */
  propertyStringList(name: string, values: readonly string[]): void {
    const parts = values.map((v) => {
      if (typeof v !== 'string' || v.includes('\0'))
        throw new FdtError('ERR_FDT_VALUE', `property ${name}: a string with NUL`);
      return utf8z(v);
    });
    const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      b.set(p, at);
      at += p.length;
    }
    this.propertyBytes(name, b);
  }

  /** Allocates the next phandle (1, 2, …) and writes it as the `phandle` property of the node begun last. */
  phandle(): number {
    const p = this.#nextPhandle;
    this.propertyU32('phandle', p);
    this.#nextPhandle++;
    return p;
  }

  /** The blob. Every node must have been ended; the writer takes no more calls after it. */
  finish(): Uint8Array {
    this.#live();
    if (!this.#rootDone) throw new FdtError('ERR_FDT_ORDER', 'no root node');
    if (this.#stack.length > 0)
      throw new FdtError('ERR_FDT_ORDER', `node "${this.#stack.at(-1)!.node.name}" is not ended`);
    this.#u32(FDT_END);
    this.#finished = true;
    const rsvOff = HEADER_BYTES; // 8-aligned
    const rsvBytes = 16 * (this.#reserved.length + 1);
    const structOff = rsvOff + rsvBytes;
    const structBytes = this.#struct.length;
    const stringsOff = structOff + structBytes;
    const total = stringsOff + this.#strings.length;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    [
      FDT_MAGIC,
      total,
      structOff,
      stringsOff,
      rsvOff,
      VERSION,
      LAST_COMPATIBLE,
      this.#bootCpuid,
      this.#strings.length,
      structBytes,
    ].forEach((v, i) => dv.setUint32(4 * i, v));
    this.#reserved.forEach(([a, s], i) => {
      dv.setBigUint64(rsvOff + 16 * i, a);
      dv.setBigUint64(rsvOff + 16 * i + 8, s);
    });
    out.set(this.#struct, structOff);
    out.set(this.#strings, stringsOff);
    return out;
  }

  #live(): void {
    if (this.#finished) throw new FdtError('ERR_FDT_ORDER', 'the writer has finished');
  }

  #propertyStart(name: string): Open {
    this.#live();
    const open = this.#stack.at(-1);
    if (open === undefined) throw new FdtError('ERR_FDT_ORDER', `property ${name} outside any node`);
    if (typeof name !== 'string' || !PROP_NAME.test(name))
      throw new FdtError('ERR_FDT_NAME', `property name "${name}"`);
    if (open.children)
      throw new FdtError('ERR_FDT_ORDER', `property ${name} after a child node of "${open.node.name}"`);
    if (open.props.has(name)) throw new FdtError('ERR_FDT_ORDER', `property ${name} twice in "${open.node.name}"`);
    return open;
  }

  #stringOffset(name: string): number {
    let off = this.#stringOffsets.get(name);
    if (off === undefined) {
      off = this.#strings.length;
      for (const b of utf8z(name)) this.#strings.push(b);
      this.#stringOffsets.set(name, off);
    }
    return off;
  }

  #u32(v: number): void {
    this.#struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }

  #bytes(b: Uint8Array): void {
    for (const x of b) this.#struct.push(x);
  }

  #pad(): void {
    while (this.#struct.length % 4 !== 0) this.#struct.push(0);
  }
}

function utf8z(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function u64(what: string, v: number | bigint): bigint {
  const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b >= 2n ** 64n) throw new FdtError('ERR_FDT_VALUE', `${what} ${String(v)} is not 0 … 2^64-1`);
  return b;
}
