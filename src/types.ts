/**
 * ByteValued types: the plain-old-data layouts that `readObj`/`writeObj`/`getRef` move between
 * guest memory and JavaScript values.
 *
 * Scalars (`u8` … `f64`) use the host's byte order, as vm-memory does; `le*`/`be*` are explicit.
 * 8/16/32-bit integers and floats are `number`s, 64-bit integers `bigint`s. `struct` lays fields
 * out like `repr(C)` (natural alignment, padding, size rounded up to the largest alignment),
 * `packed` without padding, and `array` is a fixed-length array.
 *
 * Every type is an instance of one class, so accessors that switch on a type stay monomorphic.
 *
 * @example
 * const Desc = struct([['addr', u64], ['len', u32], ['flags', u16], ['next', u16]]);
 * Desc.size; // 16
 * mem.writeObj(Desc, { addr: 0x1000n, len: 512, flags: 1, next: 0 }, 0x2000);
 */
import { checkIndex, rangeError, typeError, MAX_SAFE } from './internal/args.js';

/** Scalar kinds, in an order the accessors switch on. */
export const S_U8 = 0;
export const S_I8 = 1;
export const S_U16 = 2;
export const S_I16 = 3;
export const S_U32 = 4;
export const S_I32 = 5;
export const S_U64 = 6;
export const S_I64 = 7;
export const S_F32 = 8;
export const S_F64 = 9;
/** `scalar` of struct, packed and array types. */
export const S_COMPOSITE = -1;

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const enum Form {
  Scalar,
  Struct,
  Array,
}

interface Field {
  readonly name: string;
  readonly type: ValueType<unknown>;
  readonly offset: number;
}

/** Only this module makes ValueTypes: the constructor refuses any other caller. */
const MAKE = Symbol('ValueType');

/**
 * A ByteValued type: `size` and `align` in bytes, plus how to encode and decode its values.
 *
 * Only the library's own types are accepted anywhere a type is taken: the exported scalars and
 * what `struct`, `packed` and `array` return. They carry a private brand and are frozen; a
 * look-alike object, an `Object.create(u32, …)` or a `new u32.constructor(…)` is refused with a
 * TypeError (`ERR_INVALID_ARG_TYPE`), as their `size` could otherwise aim an access outside the
 * memory it checked.
 */
export class ValueType<T> {
  /** The brand: a private field exists only on objects this class constructed. */
  readonly #genuine = true;

  /** @internal Whether `value` is a type this library made (a private-brand check: no property read). */
  static is(value: unknown): value is ValueType<unknown> {
    return typeof value === 'object' && value !== null && #genuine in value;
  }

  /** The type's name as errors and `toString` show it: 'u32', 'le16', or the struct/array's own. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Natural alignment in bytes (the largest member alignment for structs; 1 for packed). */
  readonly align: number;
  /** @internal Scalar code (S_*), or S_COMPOSITE. */
  readonly scalar: number;
  /**
   * Whether atomic operations (`load`, `store`, the RMWs) take this type: the integer scalars in
   * host byte order, so `le16`/`le32`/`le64` on a little-endian host (device registers, virtio
   * rings) but not `be*` there, nor floats or composites.
   */
  readonly atomic: boolean;
  /** Whether `wait`/`notify`-style futex waits take this type (32- and 64-bit signed, host order). */
  readonly waitable: boolean;
  /** @internal The scalar code for atomic operations, or -1 if `atomic` is false. */
  readonly atomicScalar: number;
  /** @internal The scalar code if its bytes are in host order (plain typed-array access), else -1. */
  readonly plainScalar: number;
  /** @internal Whether the in-memory bytes are little-endian (DataView's flag). */
  readonly little: boolean;
  /** @internal Whether the in-memory byte order differs from the host's. */
  readonly swap: boolean;
  /** @internal */
  readonly form: Form;
  /** @internal struct fields, in declaration order */
  readonly fields: readonly Field[];
  /** @internal array element type */
  readonly element: ValueType<unknown> | null;
  /** @internal array length */
  readonly count: number;

  /** @internal Use the exported scalars and `struct`, `packed`, `array`. */
  constructor(
    key: symbol,
    name: string,
    size: number,
    align: number,
    scalar: number,
    little: boolean,
    form: Form,
    fields: readonly Field[],
    element: ValueType<unknown> | null,
    count: number,
  ) {
    if (key !== MAKE) throw typeError('new ValueType()', 'not called: use u8 … f64, struct, packed or array', key);
    this.name = name;
    this.size = size;
    this.align = align;
    this.scalar = scalar;
    this.little = little;
    this.swap = little !== HOST_LITTLE_ENDIAN;
    this.atomic = form === Form.Scalar && !this.swap && scalar <= S_I64;
    this.waitable = this.atomic && (scalar === S_I32 || scalar === S_I64);
    this.atomicScalar = this.atomic ? scalar : -1;
    this.plainScalar = form === Form.Scalar && !this.swap ? scalar : -1;
    this.form = form;
    this.fields = fields;
    this.element = element;
    this.count = count;
    Object.freeze(this);
  }

  /** @internal Reads a value at `off` of `dv` (no bounds checks beyond DataView's). */
  decode(dv: DataView, off: number): T {
    switch (this.form) {
      case Form.Scalar:
        return decodeScalar(this.scalar, this.little, dv, off) as T;
      case Form.Struct: {
        const out: Record<string, unknown> = {};
        for (const f of this.fields) out[f.name] = f.type.decode(dv, off + f.offset);
        return out as T;
      }
      default: {
        const el = this.element!;
        const out = new Array<unknown>(this.count);
        for (let i = 0; i < this.count; i++) out[i] = el.decode(dv, off + i * el.size);
        return out as T;
      }
    }
  }

  /** @internal Checks `value` and writes it at `off` of `dv`; throws before writing if invalid. */
  encode(dv: DataView, off: number, value: T, what = 'value'): void {
    switch (this.form) {
      case Form.Scalar:
        encodeScalar(this, dv, off, value, what);
        return;
      case Form.Struct: {
        if (typeof value !== 'object' || value === null) {
          throw typeError(what, `an object with the fields of ${this.name}`, value);
        }
        const obj = value as Record<string, unknown>;
        for (const f of this.fields) f.type.encode(dv, off + f.offset, obj[f.name], `${what}.${f.name}`);
        return;
      }
      default: {
        const arr = value as ArrayLike<unknown>;
        if (typeof arr !== 'object' || arr === null || typeof arr.length !== 'number') {
          throw typeError(what, `an array of ${this.count} elements`, value);
        }
        if (arr.length !== this.count) {
          throw rangeError(`${what}.length`, `${this.count}`, arr.length);
        }
        const el = this.element!;
        for (let i = 0; i < this.count; i++) el.encode(dv, off + i * el.size, arr[i], `${what}[${i}]`);
      }
    }
  }
}

function decodeScalar(scalar: number, little: boolean, dv: DataView, off: number): number | bigint {
  switch (scalar) {
    case S_U8:
      return dv.getUint8(off);
    case S_I8:
      return dv.getInt8(off);
    case S_U16:
      return dv.getUint16(off, little);
    case S_I16:
      return dv.getInt16(off, little);
    case S_U32:
      return dv.getUint32(off, little);
    case S_I32:
      return dv.getInt32(off, little);
    case S_U64:
      return dv.getBigUint64(off, little);
    case S_I64:
      return dv.getBigInt64(off, little);
    case S_F32:
      return dv.getFloat32(off, little);
    default:
      return dv.getFloat64(off, little);
  }
}

/** Inclusive [min, max] of each integer scalar that takes a number. */
const INT_RANGE: readonly (readonly [number, number])[] = [
  [0, 0xff],
  [-0x80, 0x7f],
  [0, 0xffff],
  [-0x8000, 0x7fff],
  [0, 0xffffffff],
  [-0x80000000, 0x7fffffff],
];
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/**
 * Throws the argument error for a value that `type` cannot hold; returns normally if it can.
 * The accessors' fast paths check the common cases inline and call this only to throw.
 */
export function checkScalarValue(type: ValueType<unknown>, value: unknown, what = 'value'): void {
  const scalar = type.scalar;
  if (scalar <= S_I32) {
    if (typeof value !== 'number') throw typeError(what, `of type number (${type.name})`, value);
    const [min, max] = INT_RANGE[scalar]!;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw rangeError(what, `an integer in [${min}, ${max}] (${type.name})`, value);
    }
  } else if (scalar <= S_I64) {
    if (typeof value !== 'bigint') throw typeError(what, `of type bigint (${type.name})`, value);
    const [min, max] = scalar === S_U64 ? [0n, U64_MAX] : [I64_MIN, I64_MAX];
    if (value < min || value > max) throw rangeError(what, `in [${min}, ${max}] (${type.name})`, value);
  } else if (typeof value !== 'number') {
    throw typeError(what, `of type number (${type.name})`, value);
  }
}

function encodeScalar(type: ValueType<unknown>, dv: DataView, off: number, value: unknown, what: string): void {
  checkScalarValue(type, value, what);
  const little = type.little;
  switch (type.scalar) {
    case S_U8:
      dv.setUint8(off, value as number);
      return;
    case S_I8:
      dv.setInt8(off, value as number);
      return;
    case S_U16:
      dv.setUint16(off, value as number, little);
      return;
    case S_I16:
      dv.setInt16(off, value as number, little);
      return;
    case S_U32:
      dv.setUint32(off, value as number, little);
      return;
    case S_I32:
      dv.setInt32(off, value as number, little);
      return;
    case S_U64:
      dv.setBigUint64(off, value as bigint, little);
      return;
    case S_I64:
      dv.setBigInt64(off, value as bigint, little);
      return;
    case S_F32:
      dv.setFloat32(off, value as number, little);
      return;
    default:
      dv.setFloat64(off, value as number, little);
  }
}

function makeScalar<T>(name: string, size: number, scalar: number, little = HOST_LITTLE_ENDIAN): ValueType<T> {
  return new ValueType<T>(MAKE, name, size, size, scalar, little, Form.Scalar, [], null, 1);
}

/** Unsigned 8-bit integer (number). */
export const u8 = makeScalar<number>('u8', 1, S_U8);
/** Signed 8-bit integer (number). */
export const i8 = makeScalar<number>('i8', 1, S_I8);
/** Unsigned 16-bit integer in host byte order (number). */
export const u16 = makeScalar<number>('u16', 2, S_U16);
/** Signed 16-bit integer in host byte order (number). */
export const i16 = makeScalar<number>('i16', 2, S_I16);
/** Unsigned 32-bit integer in host byte order (number, 0 … 2^32-1). */
export const u32 = makeScalar<number>('u32', 4, S_U32);
/** Signed 32-bit integer in host byte order (number); waitable. */
export const i32 = makeScalar<number>('i32', 4, S_I32);
/** Unsigned 64-bit integer in host byte order (bigint). */
export const u64 = makeScalar<bigint>('u64', 8, S_U64);
/** Signed 64-bit integer in host byte order (bigint); waitable. */
export const i64 = makeScalar<bigint>('i64', 8, S_I64);
/** 32-bit IEEE float (number); not atomic: `load`/`store` refuse it, `readObj`/`writeObj` take it. */
export const f32 = makeScalar<number>('f32', 4, S_F32);
/** 64-bit IEEE float (number); not atomic. */
export const f64 = makeScalar<number>('f64', 8, S_F64);
/** Little-endian 16-bit unsigned (virtio and device registers); atomic on a little-endian host. */
export const le16 = makeScalar<number>('le16', 2, S_U16, true);
/** Little-endian 32-bit unsigned; atomic on a little-endian host. */
export const le32 = makeScalar<number>('le32', 4, S_U32, true);
/** Little-endian 64-bit unsigned (bigint); atomic on a little-endian host. */
export const le64 = makeScalar<bigint>('le64', 8, S_U64, true);
/** Big-endian 16-bit unsigned; not atomic on a little-endian host (the TypeError names host byte order). */
export const be16 = makeScalar<number>('be16', 2, S_U16, false);
/** Big-endian 32-bit unsigned; not atomic on a little-endian host. */
export const be32 = makeScalar<number>('be32', 4, S_U32, false);
/** Big-endian 64-bit unsigned (bigint); not atomic on a little-endian host. */
export const be64 = makeScalar<bigint>('be64', 8, S_U64, false);

/**
 * What `writeObj`/`store` accept for a type: its value, and for array types any array-like of
 * the elements (a typed array, say).
 */
export type WriteValue<T> = T | (T extends readonly (infer E)[] ? ArrayLike<E> : never);

/** The JavaScript value of a ByteValued type. */
export type ValueOf<V> = V extends ValueType<infer T> ? T : never;
/** The fields of a struct: `[name, type]` pairs in declaration order. */
export type FieldList = readonly (readonly [string, ValueType<unknown>])[];
/** The object a struct of fields F reads as and is written from. */
export type StructValue<F extends FieldList> = { [E in F[number] as E[0]]: ValueOf<E[1]> };

export function isValueType(value: unknown): value is ValueType<unknown> {
  return ValueType.is(value);
}

export function checkValueType(name: string, value: unknown): ValueType<unknown> {
  if (!ValueType.is(value)) throw typeError(name, 'a guestmem type (u8 … f64, struct, packed, array)', value);
  return value;
}

function layout<F extends FieldList>(fields: F, isPacked: boolean): ValueType<StructValue<F>> {
  if (!Array.isArray(fields)) throw typeError('fields', 'an array of [name, type] pairs', fields);
  const seen = new Set<string>();
  const out: Field[] = [];
  let offset = 0;
  let align = 1;
  fields.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw typeError(`fields[${i}]`, 'a [name, type] pair', pair);
    }
    const [name, type] = pair as readonly [string, unknown];
    const t = checkValueType(`fields[${i}][1]`, type);
    if (seen.has(name)) throw typeError(`fields[${i}][0]`, 'a field name not used before', name);
    // '__proto__' would set the decoded object's prototype instead of a field
    if (name === '__proto__') throw typeError(`fields[${i}][0]`, "a field name other than '__proto__'", name);
    seen.add(name);
    const a = isPacked ? 1 : t.align;
    offset = Math.ceil(offset / a) * a;
    out.push({ name, type: t, offset });
    offset += t.size;
    align = Math.max(align, a);
  });
  const size = Math.ceil(offset / align) * align;
  const name = `${isPacked ? 'packed' : 'struct'} { ${out.map((f) => `${f.name}: ${f.type.name}`).join(', ')} }`;
  return new ValueType(
    MAKE,
    name,
    size,
    align,
    S_COMPOSITE,
    HOST_LITTLE_ENDIAN,
    Form.Struct,
    Object.freeze(out),
    null,
    0,
  );
}

/** A C-layout (`repr(C)`) struct type: natural alignment, padding, size rounded to its alignment. */
export function struct<const F extends FieldList>(fields: F): ValueType<StructValue<F>> {
  return layout(fields, false);
}

/** Like {@link struct} with no padding (`repr(C, packed)`): alignment 1. */
export function packed<const F extends FieldList>(fields: F): ValueType<StructValue<F>> {
  return layout(fields, true);
}

/** A fixed-length array type `[T; n]`; values are arrays (or the matching typed arrays) of n elements. */
export function array<T>(type: ValueType<T>, n: number): ValueType<T[]> {
  const t = checkValueType('type', type) as ValueType<T>;
  checkIndex('n', n);
  if (t.size * n > MAX_SAFE) throw rangeError('n', `at most ${Math.floor(MAX_SAFE / Math.max(t.size, 1))}`, n);
  return new ValueType<T[]>(
    MAKE,
    `[${t.name}; ${n}]`,
    t.size * n,
    t.align,
    S_COMPOSITE,
    HOST_LITTLE_ENDIAN,
    Form.Array,
    [],
    t as ValueType<unknown>,
    n,
  );
}
