// The platform state every hart and the device thread share, in SharedArrayBuffers that travel
// in pool.start()'s argument: CLINT (msip, mtimecmp; mtime is the shared monotonic clock at
// 10 MHz), PLIC (priorities, pending, enables, thresholds, claims), and a lock for 64-bit CAS.
import { GuestTimebase, monotonicNow } from 'guestmem';

export const CLINT_BASE = 0x0200_0000;
export const PLIC_BASE = 0x0c00_0000;
export const UART_BASE = 0x1000_0000;
export const VIRTIO_BASE = 0x1000_1000;
export const UART_IRQ = 10;
export const VIRTIO_IRQ = 1;
/** mtime ticks per millisecond (QEMU virt: 10 MHz). */
export const TICKS_PER_MS = 10_000;
export const MAX_HARTS = 16;

// PLIC words
const PRIORITY = 0; // [32]
const PENDING = 32;
const ASSERTED = 33;
const IN_SERVICE = 34;
const ENABLE = 64; // [2 * MAX_HARTS] one word per context
const THRESHOLD = 128; // [2 * MAX_HARTS]

export function createPlatform() {
  return {
    clint: new SharedArrayBuffer((64 + 2 * MAX_HARTS) * 4),
    plic: new SharedArrayBuffer(256 * 4),
    lock: new SharedArrayBuffer(4),
    t0: monotonicNow(),
    stats: new SharedArrayBuffer(8 * 4), // [ipis]
    // LR/SC reservations: [harts holding one, then per hart its 8-byte granule or -1]
    reservations: new SharedArrayBuffer((1 + MAX_HARTS) * 4),
  };
}

/** The PLIC's shared state and its gateway logic (used by harts and by the device thread). */
export class Plic {
  constructor(sab, kickAll) {
    this.w = new Int32Array(sab);
    this.kickAll = kickAll;
  }

  /** A device drives source `src` high or low (level-triggered). */
  setLevel(src, high) {
    const bit = 1 << src;
    const w = this.w;
    if (high) {
      const was = Atomics.or(w, ASSERTED, bit);
      if (!(Atomics.load(w, IN_SERVICE) & bit) && !(Atomics.load(w, PENDING) & bit)) {
        Atomics.or(w, PENDING, bit);
        this.kickAll();
      } else if (!(was & bit)) this.kickAll();
    } else Atomics.and(w, ASSERTED, ~bit);
  }

  /** Whether context `c` has an enabled pending source above its threshold. */
  hasPending(c) {
    const w = this.w;
    let p = Atomics.load(w, PENDING) & Atomics.load(w, ENABLE + c);
    if (p === 0) return false;
    const th = Atomics.load(w, THRESHOLD + c);
    while (p !== 0) {
      const s = 31 - Math.clz32(p);
      if (Atomics.load(w, PRIORITY + s) > th) return true;
      p &= ~(1 << s);
    }
    return false;
  }

  claim(c) {
    const w = this.w;
    for (;;) {
      const pend = Atomics.load(w, PENDING);
      let p = pend & Atomics.load(w, ENABLE + c);
      const th = Atomics.load(w, THRESHOLD + c);
      let best = 0,
        bestPrio = th;
      while (p !== 0) {
        const s = 31 - Math.clz32(p);
        const pr = Atomics.load(w, PRIORITY + s);
        if (pr > bestPrio || (pr === bestPrio && pr > th && s < best)) {
          best = s;
          bestPrio = pr;
        }
        p &= ~(1 << s);
      }
      if (best === 0) return 0;
      if (Atomics.compareExchange(w, PENDING, pend, pend & ~(1 << best)) === pend) {
        Atomics.or(w, IN_SERVICE, 1 << best);
        return best;
      }
    }
  }

  complete(src) {
    if (src <= 0 || src >= 32) return;
    const bit = 1 << src;
    const w = this.w;
    Atomics.and(w, IN_SERVICE, ~bit);
    if (Atomics.load(w, ASSERTED) & bit) {
      Atomics.or(w, PENDING, bit);
      this.kickAll();
    }
  }

  /** The PLIC's MMIO registers (offsets from PLIC_BASE). */
  read(off) {
    const w = this.w;
    if (off < 0x80) return Atomics.load(w, PRIORITY + (off >>> 2)) >>> 0;
    if (off === 0x1000) return Atomics.load(w, PENDING) >>> 0;
    if (off >= 0x2000 && off < 0x200000) {
      const c = (off - 0x2000) >>> 7;
      return (off & 0x7f) === 0 && c < 2 * MAX_HARTS ? Atomics.load(w, ENABLE + c) >>> 0 : 0;
    }
    if (off >= 0x200000) {
      const c = (off - 0x200000) >>> 12;
      if (c >= 2 * MAX_HARTS) return 0;
      if ((off & 0xfff) === 0) return Atomics.load(w, THRESHOLD + c) >>> 0;
      if ((off & 0xfff) === 4) return this.claim(c);
    }
    return 0;
  }

  write(off, value) {
    const w = this.w;
    if (off < 0x80) Atomics.store(w, PRIORITY + (off >>> 2), value & 7);
    else if (off >= 0x2000 && off < 0x200000) {
      const c = (off - 0x2000) >>> 7;
      if ((off & 0x7f) === 0 && c < 2 * MAX_HARTS) Atomics.store(w, ENABLE + c, value & ~1);
    } else if (off >= 0x200000) {
      const c = (off - 0x200000) >>> 12;
      if (c >= 2 * MAX_HARTS) return;
      if ((off & 0xfff) === 0) Atomics.store(w, THRESHOLD + c, value & 7);
      else if ((off & 0xfff) === 4) this.complete(value);
    }
  }
}

/** The CLINT's shared state: msip per hart, mtimecmp per hart, mtime from the clock. */
export class Clint {
  constructor(sab, t0, kick) {
    this.w = new Int32Array(sab);
    // mtime: the library's guest counter on the shared clock, from the machine's start t0
    this.timebase = new GuestTimebase({ frequency: TICKS_PER_MS * 1000, epoch: t0 });
    this.kick = kick;
  }

  mtime() {
    return this.timebase.ticks();
  }

  msip(h) {
    return Atomics.load(this.w, h);
  }

  /** mtimecmp of hart h as a double (2^64-1 and friends round to "never"). */
  mtimecmp(h) {
    return (Atomics.load(this.w, 64 + 2 * h + 1) >>> 0) * 4294967296 + (Atomics.load(this.w, 64 + 2 * h) >>> 0);
  }

  /** The monotonicNow() time at which hart h's timer fires. */
  deadline(h) {
    return this.timebase.deadline(this.mtimecmp(h));
  }

  read(off, size) {
    if (off < 0x4000) return off >>> 2 < MAX_HARTS ? Atomics.load(this.w, off >>> 2) : 0;
    if (off >= 0x4000 && off < 0x4000 + 8 * MAX_HARTS) {
      const h = (off - 0x4000) >>> 3;
      return Atomics.load(this.w, 64 + 2 * h + ((off & 4) >>> 2)) >>> 0;
    }
    if (off === 0xbff8 || off === 0xbffc) {
      const t = this.mtime();
      return off === 0xbff8 ? t >>> 0 : Math.floor(t / 4294967296) >>> 0;
    }
    void size;
    return 0;
  }

  write(off, value, self) {
    if (off < 0x4000) {
      const h = off >>> 2;
      if (h >= MAX_HARTS) return;
      Atomics.store(this.w, h, value & 1);
      if (value & 1) this.kick(h, true);
    } else if (off >= 0x4000 && off < 0x4000 + 8 * MAX_HARTS) {
      const h = (off - 0x4000) >>> 3;
      Atomics.store(this.w, 64 + 2 * h + ((off & 4) >>> 2), value | 0);
      if (h !== self) this.kick(h, false);
    }
  }

  read64(off) {
    if (off === 0xbff8) return BigInt(this.mtime());
    return (BigInt(this.read(off + 4, 4)) << 32n) | BigInt(this.read(off, 4));
  }

  write64(off, value, self) {
    if (off >= 0x4000 && off < 0x4000 + 8 * MAX_HARTS) {
      const h = (off - 0x4000) >>> 3;
      // high word first to "never", then low, then high: no spurious early interrupt
      Atomics.store(this.w, 64 + 2 * h + 1, -1);
      Atomics.store(this.w, 64 + 2 * h, Number(value & 0xffffffffn) | 0);
      Atomics.store(this.w, 64 + 2 * h + 1, Number(value >> 32n) | 0);
      if (h !== self) this.kick(h, false);
    } else {
      this.write(off, Number(value & 0xffffffffn), self);
      this.write(off + 4, Number(value >> 32n), self);
    }
  }
}
