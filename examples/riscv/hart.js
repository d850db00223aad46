// The vCPU module: one hart per VcpuPool vCPU. Its DeviceBus holds the CLINT and the PLIC as
// in-vCPU devices (their state is shared by every hart) and the UART and the virtio block device
// as exit devices (served by the main thread). WFI sleeps in ctx.waitUntil until the hart's
// timer deadline, woken early by IPIs (msip writes kick the target hart) and device interrupts.
import { DeviceBus, monotonicNow } from 'guestmem';
import { Cpu } from './cpu/cpu.js';
import { warmUp } from './cpu/warmup.js';
import { CLINT_BASE, Clint, PLIC_BASE, Plic, RNG_BASE, TEST_BASE, UART_BASE, VIRTIO_BASE } from './devices/platform.js';

const MSIP = 1 << 3;
const MTIP = 1 << 7;
const SEIP = 1 << 9;
const MEIP = 1 << 11;
/** Instructions between checks of interrupts, HTIF, pause and stop. */
const BLOCK = 8192;
/**
 * A block that was mostly a pure load-spin (`while (flag == 0) ;`, e.g. xv6's other harts
 * waiting for hart 0 to finish booting) naps this long, in milliseconds, unless an interrupt,
 * IPI, pause or stop comes first: with more harts than host cores, a spinning hart would
 * otherwise take a core from the hart it waits for. A plain store to the flag does not wake
 * the nap, so it adds up to this much latency to such a wait.
 */
const SPIN_NAP_MS = 0.5;
/**
 * A guest in a trap loop (a handler that faults again at once, e.g. mtvec 0 with nothing there)
 * makes almost every instruction an exception: TRAP_LOOP_BLOCKS blocks in a row with more than
 * BLOCK / 8 exceptions each end the run with a message instead of spinning until the timeout.
 */
const TRAP_LOOP_BLOCKS = 16;

export default async function hart(ctx) {
  const a = ctx.arg;
  const id = ctx.id;
  const kick = (h) => {
    if (h < ctx.vcpus) ctx.kick(h);
  };
  const stats = new Int32Array(a.platform.stats);
  const clint = new Clint(a.platform, (h, ipi) => {
    if (ipi) Atomics.add(stats, 0, 1);
    kick(h);
  });
  const plic = new Plic(a.platform.plic, kick);
  const lock = new Int32Array(a.platform.lock);

  const bus = new DeviceBus({ vcpu: ctx.id });
  bus.register(
    CLINT_BASE,
    0x10000,
    {
      read: (off) => clint.read(off),
      write: (off, _size, v) => clint.write(off, v, id),
      read64: (off) => clint.read64(off),
      write64: (off, v) => clint.write64(off, v, id),
    },
    'clint',
  );
  bus.register(
    PLIC_BASE,
    0x400000,
    { read: (off) => plic.read(off), write: (off, _s, v) => plic.write(off, v) },
    'plic',
  );
  if (a.uartLsr) {
    // LSR from the main thread's shadow (no exit unless it shows an overrun, which a real read
    // clears); every other UART access exits
    const lsr = new Int32Array(a.uartLsr);
    bus.register(
      UART_BASE,
      0x100,
      {
        read: (off, size) => {
          if (off === 5) {
            const v = Atomics.load(lsr, 0);
            if ((v & 2) === 0) return v;
          }
          return ctx.mmio.exit(UART_BASE + off, size, false, 0);
        },
        write: (off, size, v) => {
          ctx.mmio.exit(UART_BASE + off, size, true, v);
        },
      },
      'uart',
    );
  } else bus.registerExit(UART_BASE, 0x100, ctx.mmio, 'uart');
  bus.registerExit(VIRTIO_BASE, 0x1000, ctx.mmio, 'virtio-blk');
  bus.registerExit(RNG_BASE, 0x1000, ctx.mmio, 'virtio-rng');
  bus.registerExit(TEST_BASE, 0x1000, ctx.mmio, 'test');
  const phys = ctx.memory.withBus(bus).withMisaligned('split');

  const regs = new Int32Array(ctx.stateBlock, 0, 64);
  const pcSlot = new Float64Array(ctx.stateBlock, 512, 2); // [pc, instret]
  const platform = {
    lock,
    mtime: () => clint.mtime(),
    lines: () =>
      (clint.msip(id) ? MSIP : 0) |
      (clint.mtime() >= clint.mtimecmp(id) ? MTIP : 0) |
      (plic.hasPending(2 * id + 1) ? SEIP : 0) |
      (plic.hasPending(2 * id) ? MEIP : 0),
    sleep: (cpu) => {
      // A guest that wrote its HTIF result and then parked in WFI (interrupts off) would sleep
      // forever before the hart loop polls tohost: don't sleep on an unread result.
      if (a.tohost !== null && phys.ld32s(a.tohost) !== 0) return;
      // until the timer fires, or a kick (IPI, device interrupt, stop, pause) comes first
      const deadline = cpu.getLo(0x304) & MTIP ? clint.deadline(id) : Infinity;
      ctx.waitUntil(deadline);
    },
  };
  const reservations = new Int32Array(a.platform.reservations);
  const options = { hartid: id, platform, path: a.path, fpu: a.fpu, atomic64: ctx.vcpus > 1 };
  // every kind of instruction once before the guest's first (see cpu/warmup.js)
  if (a.warmUp) warmUp(Cpu, options, phys, a.warmUp);
  const cpu = new Cpu({ ...options, regs, phys, ram: a.ram, reservations });
  if (a.restore) cpu.loadState(a.restore[id]);
  else {
    cpu.pc = a.entry;
    // a0 = hartid, a1 = the device tree's address, as firmware hands them over
    regs[20] = id;
    regs[22] = a.dtb >>> 0;
    regs[23] = Math.floor(a.dtb / 2 ** 32);
  }
  // a live migration's last collection, taken while the harts are paused, has every write
  ctx.onPark(() => cpu.publishDirty());
  ctx.expose({
    regs: () => ({ pc: cpu.pc, priv: cpu.priv, x: Array.from(regs) }),
    // the hart's state for a machine snapshot (asked while the pool is paused)
    save: () => cpu.saveState(),
  });

  const tohost = a.tohost;
  const start = performance.now();
  let result = null;
  let naps = 0;
  // instructions by privilege level (U, S, -, M), each block counted at the level it ended in
  const byPriv = [0, 0, 0, 0];
  let trapBlocks = 0;
  let exceptions = 0;
  while (!ctx.shouldStop()) {
    const ran = cpu.run(BLOCK);
    byPriv[cpu.priv] += ran;
    cpu.syncDirty();
    const ex = cpu.stats.exceptions;
    if (ex - exceptions > BLOCK / 8) {
      if (++trapBlocks >= TRAP_LOOP_BLOCKS) {
        const s = cpu.saveState();
        const mcause = s.csr[2 * 0x342],
          mtvec = (s.csr[2 * 0x305 + 1] >>> 0) * 2 ** 32 + (s.csr[2 * 0x305] >>> 0);
        result = {
          fatal: `a trap loop: ${ex - exceptions} exceptions in the last ${ran} instructions, pc 0x${BigInt.asUintN(64, BigInt(cpu.pc)).toString(16)}, mcause ${mcause}, mtvec 0x${mtvec.toString(16)}`,
        };
        break;
      }
    } else trapBlocks = 0;
    exceptions = ex;
    if (cpu.spins > BLOCK / 16) {
      naps++;
      ctx.waitUntil(monotonicNow() + SPIN_NAP_MS);
    }
    pcSlot[0] = cpu.pc;
    pcSlot[1] = cpu.instret;
    if (tohost !== null) {
      const lo = phys.ld32s(tohost);
      if (lo !== 0) {
        const hi = phys.ld32s(tohost + 4);
        if (lo & 1) {
          result = { htif: ((hi >>> 0) * 2 ** 32 + (lo >>> 0) - 1) / 2 }; // tohost >> 1, unsigned
          break;
        }
        phys.st32(tohost, 0); // a device command we do not serve: drop it
        phys.st32(tohost + 4, 0);
      }
    }
    const p = ctx.checkpoint();
    if (p) await p;
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    hart: id,
    ...result,
    instret: cpu.instret,
    seconds,
    mips: cpu.instret / seconds / 1e6,
    ...cpu.stats,
    byPriv,
    naps,
    exits: ctx.mmio.exits,
  };
}
