// The RISC-V glue over the library's devices: the PLIC and the CLINT's software interrupts as
// register windows over shared InterruptControllers, the CLINT's timer over a GuestTimebase,
// and the shared state every hart and the main thread get in pool.start()'s argument.
import { GuestTimebase, InterruptController, monotonicNow } from 'guestmem';

export const CLINT_BASE = 0x0200_0000;
export const PLIC_BASE = 0x0c00_0000;
export const UART_BASE = 0x1000_0000;
export const VIRTIO_BASE = 0x1000_1000;
export const UART_IRQ = 10;
export const VIRTIO_IRQ = 1;
/** The second virtio-mmio slot: virtio-rng, always present. */
export const RNG_BASE = 0x1000_2000;
export const RNG_IRQ = 2;
/** The SiFive test device (QEMU virt's poweroff and reboot register). */
export const TEST_BASE = 0x0010_0000;
/** mtime ticks per millisecond (QEMU virt: 10 MHz). */
export const TICKS_PER_MS = 10_000;
export const MAX_HARTS = 16;

/** PLIC sources, source 0 included (it never interrupts): riscv,ndev = PLIC_SOURCES - 1. */
export const PLIC_SOURCES = 96;
/** PLIC priorities are 0 (never) to 7. */
const PLIC_MAX_PRIORITY = 7;

/**
 * The shared state of the machine, for pool.start()'s argument: the PLIC and the CLINT's
 * software interrupts are the library's InterruptController (any thread raises, claims and
 * completes; a kick wakes the hart behind a target), mtimecmp per hart is a plain shared array.
 */
export function createPlatform(harts) {
  return {
    // PLIC: targets are hart contexts, 2h for M mode and 2h+1 for S mode
    plic: new InterruptController({
      sources: PLIC_SOURCES,
      targets: 2 * harts,
      maxPriority: PLIC_MAX_PRIORITY,
    }).share(),
    // CLINT msip: source h is hart h's software interrupt line, enabled for target h only
    msip: msipController(harts).share(),
    mtimecmp: new SharedArrayBuffer(8 * harts),
    lock: new SharedArrayBuffer(4),
    // the UART's LSR as the main thread last published it (see main.js)
    uartLsr: new SharedArrayBuffer(4),
    t0: monotonicNow(),
    stats: new SharedArrayBuffer(8 * 4), // [ipis]
    // LR/SC reservations: [harts holding one, then per hart its 8-byte granule or -1]
    reservations: new SharedArrayBuffer((1 + MAX_HARTS) * 4),
  };
}

function msipController(harts) {
  const c = new InterruptController({ sources: harts, targets: harts, maxPriority: 1 });
  for (let h = 0; h < harts; h++) {
    c.setPriority(h, 1);
    c.setEnabled(h, h, true);
  }
  return c;
}

/**
 * The PLIC's registers (QEMU virt / SiFive layout) over the shared controller: priorities at
 * 4*s, pending bits at 0x1000, per-context enables at 0x2000 + 0x80*c, threshold and
 * claim/complete at 0x200000 + 0x1000*c. `kick(hart)` wakes a hart whose context may have an
 * interrupt to take.
 */
export class Plic {
  constructor(shared, kick) {
    this.irq = InterruptController.fromShared(shared, { kick: (c) => kick(c >>> 1) });
    this.contexts = this.irq.targets;
  }

  /** A device drives source `src` high or low (level-triggered). */
  setLevel(src, high) {
    this.irq.setLevel(src, high);
  }

  /** Whether context `c` has an enabled pending source above its threshold. */
  hasPending(c) {
    return this.irq.pending(c);
  }

  read(off) {
    const irq = this.irq;
    if (off < 4 * PLIC_SOURCES) return irq.priority(off >>> 2);
    if (off >= 0x1000 && off < 0x1000 + 4 * Math.ceil(PLIC_SOURCES / 32)) {
      let bits = 0;
      const first = ((off - 0x1000) >>> 2) * 32;
      for (let b = 0; b < 32 && first + b < PLIC_SOURCES; b++) if (irq.isPending(first + b)) bits |= 1 << b;
      return bits >>> 0;
    }
    if (off >= 0x2000 && off < 0x200000) {
      const c = (off - 0x2000) >>> 7;
      const word = (off & 0x7f) >>> 2;
      return c < this.contexts && word < Math.ceil(PLIC_SOURCES / 32) ? irq.enabledWord(c, word) : 0;
    }
    if (off >= 0x200000) {
      const c = (off - 0x200000) >>> 12;
      if (c >= this.contexts) return 0;
      if ((off & 0xfff) === 0) return irq.threshold(c);
      if ((off & 0xfff) === 4) return Math.max(0, irq.claim(c));
    }
    return 0;
  }

  write(off, value) {
    const irq = this.irq;
    // source 0 does not exist: its priority stays 0 and its enable bit clear
    if (off < 4 * PLIC_SOURCES) {
      if (off >= 4) irq.setPriority(off >>> 2, value & PLIC_MAX_PRIORITY);
    } else if (off >= 0x2000 && off < 0x200000) {
      const c = (off - 0x2000) >>> 7;
      const word = (off & 0x7f) >>> 2;
      if (c < this.contexts && word < Math.ceil(PLIC_SOURCES / 32))
        irq.setEnabledWord(c, word, word === 0 ? value & ~1 : value);
    } else if (off >= 0x200000) {
      const c = (off - 0x200000) >>> 12;
      if (c >= this.contexts) return;
      if ((off & 0xfff) === 0) irq.setThreshold(c, value & PLIC_MAX_PRIORITY);
      else if ((off & 0xfff) === 4 && value > 0 && value < PLIC_SOURCES) irq.complete(c, value);
    }
  }
}

/**
 * The CLINT: msip per hart (the shared software-interrupt controller: a write of 1 raises hart
 * h's line and kicks it), mtimecmp per hart, mtime from the shared clock at 10 MHz.
 */
export class Clint {
  constructor(platform, kick) {
    this.harts = platform.msip.sources;
    this.ipi = InterruptController.fromShared(platform.msip, { kick: (h) => kick(h, true) });
    this.w = new Int32Array(platform.mtimecmp);
    // mtime: the library's guest counter on the shared clock, from the machine's start t0
    this.timebase = new GuestTimebase({ frequency: TICKS_PER_MS * 1000, epoch: platform.t0 });
    this.kick = kick;
  }

  mtime() {
    return this.timebase.ticks();
  }

  msip(h) {
    return this.ipi.pending(h);
  }

  /** mtimecmp of hart h as a double (2^64-1 and friends round to "never"). */
  mtimecmp(h) {
    return (Atomics.load(this.w, 2 * h + 1) >>> 0) * 4294967296 + (Atomics.load(this.w, 2 * h) >>> 0);
  }

  /** The monotonicNow() time at which hart h's timer fires. */
  deadline(h) {
    return this.timebase.deadline(this.mtimecmp(h));
  }

  read(off) {
    if (off < 0x4000) return off >>> 2 < this.harts && (off & 3) === 0 ? (this.ipi.level(off >>> 2) ? 1 : 0) : 0;
    if (off >= 0x4000 && off < 0x4000 + 8 * this.harts) {
      const h = (off - 0x4000) >>> 3;
      return Atomics.load(this.w, 2 * h + ((off & 4) >>> 2)) >>> 0;
    }
    if (off === 0xbff8 || off === 0xbffc) {
      const t = this.mtime();
      return off === 0xbff8 ? t >>> 0 : Math.floor(t / 4294967296) >>> 0;
    }
    return 0;
  }

  write(off, value, self) {
    if (off < 0x4000) {
      const h = off >>> 2;
      if (h < this.harts && (off & 3) === 0) this.ipi.setLevel(h, (value & 1) !== 0);
    } else if (off >= 0x4000 && off < 0x4000 + 8 * this.harts) {
      const h = (off - 0x4000) >>> 3;
      Atomics.store(this.w, 2 * h + ((off & 4) >>> 2), value | 0);
      if (h !== self) this.kick(h, false);
    }
  }

  read64(off) {
    if (off === 0xbff8) return BigInt(this.mtime());
    return (BigInt(this.read(off + 4)) << 32n) | BigInt(this.read(off));
  }

  write64(off, value, self) {
    if (off >= 0x4000 && off < 0x4000 + 8 * this.harts) {
      const h = (off - 0x4000) >>> 3;
      // high word first to "never", then low, then high: no spurious early interrupt
      Atomics.store(this.w, 2 * h + 1, -1);
      Atomics.store(this.w, 2 * h, Number(value & 0xffffffffn) | 0);
      Atomics.store(this.w, 2 * h + 1, Number(value >> 32n) | 0);
      if (h !== self) this.kick(h, false);
    } else {
      this.write(off, Number(value & 0xffffffffn), self);
      this.write(off + 4, Number(value >> 32n), self);
    }
  }
}
