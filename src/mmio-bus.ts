/**
 * What register accesses that miss every region fall back to, and what an MMIO exit server
 * dispatches to: reads and writes by absolute guest address, with the accessing vCPU's id when
 * there is one. `DeviceBus` is the library's; the memory and runtime layers only know this shape.
 */
export interface MmioBus {
  /** Reads `size` bytes (1, 2 or 4) at guest address `addr`. */
  read(addr: number, size: number, vcpu?: number): number;
  /** Writes the low `size` bytes (1, 2 or 4) of `value` at guest address `addr`. */
  write(addr: number, size: number, value: number, vcpu?: number): void;
  /** Reads 8 bytes at `addr`. */
  read64(addr: number, vcpu?: number): bigint;
  /** Writes 8 bytes at `addr`. */
  write64(addr: number, value: bigint, vcpu?: number): void;
}

/** Whether `v` has the methods of an MmioBus. */
export function isMmioBus(v: unknown): v is MmioBus {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.read === 'function' &&
    typeof b.write === 'function' &&
    typeof b.read64 === 'function' &&
    typeof b.write64 === 'function'
  );
}
