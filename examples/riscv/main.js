#!/usr/bin/env node
// npm run riscv -- [--harts N] [--mem MiB] [--disk IMG] [--input TEXT] [--until TEXT]
//                  [--timeout S] [--stats] [--inspect-at TEXT] [--path tcache|raw|checked]
//                  [--snapshot FILE --snapshot-at TEXT] [--restore FILE]
//                  [--incoming tcp:HOST:PORT] [--migrate-to tcp:HOST:PORT --migrate-at TEXT] [ELF]
// A multi-hart RV64IMA machine (QEMU virt layout) on guestmem: one VcpuPool vCPU per hart.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  DeviceBus,
  GuestMemoryMmap,
  GuestTimebase,
  InterruptController,
  loadMachineSnapshot,
  migrateFrom,
  migrateTo,
  saveMachineSnapshot,
  VcpuPool,
  Serial16550,
  VirtioBlk,
  VirtioMmioTransport,
  VIRTIO_MMIO_MAGIC,
  loadElf,
  loadInitrd,
  loadLinuxImage,
  loadRaw,
  u64,
  VirtioRng,
} from 'guestmem';
import { machineDeviceTree } from './devices/device-tree.js';
import {
  createPlatform,
  MAX_HARTS,
  Plic,
  RNG_BASE,
  RNG_IRQ,
  TEST_BASE,
  TICKS_PER_MS,
  UART_BASE,
  UART_IRQ,
  VIRTIO_BASE,
  VIRTIO_IRQ,
} from './devices/platform.js';

const RAM_BASE = 0x8000_0000;
const DEFAULT_ELF = fileURLToPath(new URL('./guest/smp.elf', import.meta.url));

/** @param {string} message @returns {never} */
function usage(message) {
  process.stderr.write(`riscv: ${message}\n`);
  process.stderr.write(
    'usage: npm run riscv -- [--harts N] [--mem MiB] [--disk IMG] [--input TEXT] [--until TEXT] [--timeout S] [--stats]\n' +
      '         [--inspect-at TEXT] [--snapshot FILE --snapshot-at TEXT] [--restore FILE]\n' +
      '         [--incoming tcp:HOST:PORT] [--migrate-to tcp:HOST:PORT --migrate-at TEXT] [ELF]\n',
  );
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    allowPositionals: true,
    options: {
      harts: { type: 'string', default: '1' },
      mem: { type: 'string', default: '128' },
      disk: { type: 'string' },
      input: { type: 'string', default: '' },
      until: { type: 'string' },
      timeout: { type: 'string', default: '0' },
      stats: { type: 'boolean', default: false },
      'inspect-at': { type: 'string' },
      mark: { type: 'string', multiple: true, default: [] },
      path: { type: 'string', default: 'tcache' },
      'warm-up': { type: 'string' },
      isa: { type: 'string', default: 'rv64gc' },
      bios: { type: 'string' },
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      snapshot: { type: 'string' },
      'snapshot-at': { type: 'string' },
      restore: { type: 'string' },
      incoming: { type: 'string' },
      'migrate-to': { type: 'string' },
      'migrate-at': { type: 'string' },
    },
  });
} catch (e) {
  usage(e.message);
}
const { values, positionals } = opts;
const int = (name, min, max) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min || v > max) usage(`--${name} must be an integer from ${min} to ${max}`);
  return v;
};
const harts = int('harts', 1, MAX_HARTS);
const memMiB = int('mem', 1, 2047);
const timeout = Number(values.timeout);
// an operating system's boot (firmware first) meets every kind of instruction within its first
// second, so it warms the interpreter up front; a bare ELF runs the code it runs (cpu/warmup.js)
const warmUpRounds = values['warm-up'] === undefined ? (values.bios === undefined ? 0 : 8) : int('warm-up', 0, 1000);
if (!(timeout >= 0)) usage('--timeout must be a number of seconds >= 0');
if (!['tcache', 'raw', 'checked'].includes(values.path)) usage('--path must be tcache, raw or checked');
/** --isa: rv64gc (= rv64imafdc, the default) or rv64imac (no F and D: misa says so, FP instructions are illegal). */
const ISAS = { rv64gc: 'rv64imafdc', rv64imafdc: 'rv64imafdc', rv64imac: 'rv64imac' };
const isa = ISAS[values.isa];
if (isa === undefined) usage(`--isa must be one of ${Object.keys(ISAS).join(', ')}`);
const fpu = isa.includes('f');
if (positionals.length > 1) usage('one ELF file at most');
// --bios FW [--kernel Image [--initrd FILE]] [--append TEXT]: firmware at the start of RAM (an
// ELF, or a raw binary such as OpenSBI's fw_jump.bin), the kernel's Image where its header
// says (0x80200000), the initrd high in RAM; every hart starts in the firmware
if (values.bios !== undefined && positionals.length > 0) usage('--bios takes the place of the ELF');
if (values.kernel !== undefined && values.bios === undefined)
  usage('--kernel needs --bios (the firmware that starts it)');
if (values.initrd !== undefined && values.kernel === undefined) usage('--initrd needs --kernel');
for (const f of ['bios', 'kernel', 'initrd'])
  if (values[f] !== undefined && !existsSync(values[f])) usage(`no such file: --${f} ${values[f]}`);
const elfPath = values.bios ?? positionals[0] ?? DEFAULT_ELF;
if (!existsSync(elfPath)) usage(`no such ELF file: ${elfPath}`);
if (values.disk !== undefined && !existsSync(values.disk)) usage(`no such disk image: ${values.disk}`);
const input = values.input.replace(/\\n/g, '\n');
if ((values.snapshot === undefined) !== (values['snapshot-at'] === undefined))
  usage('--snapshot FILE and --snapshot-at TEXT go together');
if (values.restore !== undefined && !existsSync(values.restore)) usage(`no such snapshot: ${values.restore}`);
if ((values['migrate-to'] === undefined) !== (values['migrate-at'] === undefined))
  usage('--migrate-to tcp:HOST:PORT and --migrate-at TEXT go together');
if (values.incoming !== undefined && values.restore !== undefined) usage('--incoming and --restore exclude each other');
/** A migration endpoint: tcp:HOST:PORT (HOST may be empty: every interface) or unix:PATH. */
function endpoint(name) {
  const v = values[name];
  if (v === undefined) return null;
  const unix = /^unix:(.+)$/.exec(v);
  if (unix) return { path: unix[1], text: v };
  const tcp = /^tcp:(.*):(\d+)$/.exec(v);
  if (!tcp || Number(tcp[2]) > 65535) usage(`--${name} must be tcp:HOST:PORT or unix:PATH, not ${v}`);
  return { host: tcp[1] === '' ? undefined : tcp[1], port: Number(tcp[2]), text: v };
}
const incoming = endpoint('incoming');
const migrateTarget = endpoint('migrate-to');
/** A machine that may migrate away tracks dirty pages (the pre-copy resends what it writes). */
const trackDirty = migrateTarget !== null;

// ---- memory and image (or a machine snapshot: the same machine options, its memory and state) ----
let memory;
let tohost;
let entry = 0;
let imageEnd = RAM_BASE;
/** Where the device tree is (a1 of every hart at start), 2 MiB below the end of RAM. */
let dtbAddr = 0;
/** @type {any} the state records of a --restore snapshot */
let saved = null;
/**
 * Runs `load(fd)` on the file, turning its errors (LoaderError and the file's own) into a usage message.
 * @template T @param {string} path @param {(fd: number) => T} load @returns {T}
 */
function loading(path, load) {
  try {
    const fd = openSync(path, 'r');
    try {
      return load(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return usage(`${path}: ${e.message}`);
  }
}

/** Why a saved or migrated machine does not fit this one's options, or null when it does. */
function mismatch(state) {
  const m = state?.machine;
  if (
    m?.harts === harts &&
    m?.mem === memMiB &&
    m?.disk === (values.disk !== undefined) &&
    (m?.isa ?? 'rv64imafdc') === isa
  )
    return null;
  return `taken with --harts ${m?.harts} --mem ${m?.mem}${m?.disk ? ' --disk' : ''} --isa ${m?.isa}: start with the same options`;
}
if (values.restore !== undefined) {
  try {
    ({ memory, state: saved } = await loadMachineSnapshot(values.restore));
  } catch (e) {
    usage(`${values.restore}: ${e.message}`);
  }
  const wrong = mismatch(saved);
  if (wrong !== null) usage(`${values.restore} was ${wrong.replace('start with', 'restore with')}`);
  tohost = saved.machine.tohost;
} else if (incoming !== null) {
  // --incoming: wait for one migration, refuse a guest of another machine before confirming
  const server = createServer();
  await new Promise((resolve) => {
    server.once('error', (e) => usage(`--incoming ${incoming.text}: ${e.message}`));
    server.once('listening', resolve);
    if ('path' in incoming) server.listen(incoming.path);
    else server.listen(incoming.port, incoming.host);
  });
  process.stderr.write(`riscv: waiting for a migration on ${incoming.text}\n`);
  const socket = await new Promise((resolve) => server.once('connection', resolve));
  server.close();
  try {
    const got = await migrateFrom(socket, {
      trackDirty,
      accept: (state) => {
        const wrong = mismatch(state);
        if (wrong !== null) throw new Error(`the guest was ${wrong}`);
      },
    });
    ({ memory, state: saved } = got);
    process.stderr.write(
      `riscv: migrated in: ${got.report.rounds} rounds, ${got.report.pages} pages, ${(got.report.bytes / 2 ** 20).toFixed(1)} MiB\n`,
    );
  } catch (e) {
    process.stderr.write(`riscv: incoming migration failed: ${e.message}\n`);
    process.exit(1);
  }
  socket.end();
  tohost = saved.machine.tohost;
} else {
  memory = GuestMemoryMmap.fromRanges([[RAM_BASE, memMiB * 2 ** 20]], { trackDirty });
  const isElf = loading(elfPath, (fd) => {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === '\x7fELF';
  });
  if (isElf || values.bios === undefined) {
    const elf = loading(elfPath, (fd) => loadElf(memory, { fd }));
    if (elf.machine !== 243 || elf.class !== 64) usage(`${elfPath}: not an RV64 executable`);
    tohost = elf.symbols.get('tohost') ?? null;
    entry = elf.entry;
    // our own guests (guest/*.S) read the hart count from their 'harts' symbol
    const hartsSym = elf.symbols.get('harts');
    if (hartsSym !== undefined) memory.writeObj(u64, BigInt(harts), hartsSym);
    imageEnd = elf.end;
  } else {
    // a raw firmware binary (fw_jump.bin) at the start of RAM
    const fw = loading(elfPath, (fd) => loadRaw(memory, { fd }, RAM_BASE));
    tohost = null;
    entry = RAM_BASE;
    imageEnd = fw.end;
  }
  if (values.kernel !== undefined) {
    const k = loading(values.kernel, (fd) => loadLinuxImage(memory, { fd }, { ramBase: RAM_BASE }));
    if (k.arch !== 'riscv') usage(`${values.kernel}: an ${k.arch} kernel`);
    if (k.addr < imageEnd) usage(`${values.kernel}: the kernel at 0x${k.addr.toString(16)} overlaps the firmware`);
    imageEnd = k.addr + k.imageSize;
  }
}

// ---- the device tree (a1 at start, as firmware hands it over) ----
if (saved === null) {
  /** @param {{ start: number, end: number } | undefined} initrd */
  const tree = (initrd) =>
    machineDeviceTree({
      harts,
      ramBase: RAM_BASE,
      ramSize: memMiB * 2 ** 20,
      isa,
      uart: { base: UART_BASE, irq: UART_IRQ },
      virtio: [
        { base: VIRTIO_BASE, irq: VIRTIO_IRQ },
        { base: RNG_BASE, irq: RNG_IRQ },
      ],
      test: TEST_BASE,
      bootargs: values.append ?? 'console=ttyS0',
      initrd,
    });
  // 2 MiB below the end of RAM (the initrd goes below it); its size does not depend on the
  // initrd's place, so the tree is made again with the real range once the initrd is in
  const size = tree(values.initrd === undefined ? undefined : { start: 0, end: 0 }).length;
  dtbAddr = RAM_BASE + memMiB * 2 ** 20 - Math.max(2 ** 21, Math.ceil(size / 4096) * 4096);
  if (dtbAddr < imageEnd) usage(`${elfPath}: the image reaches the device tree's place at 0x${dtbAddr.toString(16)}`);
  let initrd;
  if (values.initrd !== undefined) {
    const rd = loading(values.initrd, (fd) => loadInitrd(memory, { fd }, { after: imageEnd, below: dtbAddr }));
    initrd = { start: rd.addr, end: rd.end };
  }
  memory.writeSlice(tree(initrd), dtbAddr);
}

// ---- platform and devices ----
const platform = createPlatform(harts);
const CLOCK_HZ = TICKS_PER_MS * 1000;
if (saved !== null) {
  // the interrupt controllers, the timer compare values and the guest clock where they were
  platform.plic = InterruptController.fromState(saved.plic).share();
  platform.msip = InterruptController.fromState(saved.msip).share();
  new Int32Array(platform.mtimecmp).set(saved.mtimecmp);
  platform.t0 = new GuestTimebase({ frequency: CLOCK_HZ }, saved.clock).epoch;
}
const pool = new VcpuPool({
  memory,
  vcpus: harts,
  module: new URL('./hart.js', import.meta.url),
  closeTimeoutMs: 2000,
});
const plic = new Plic(platform.plic, (h) => pool.kick(h));

let console_ = saved?.console ?? '';
let pendingOut = '';
let untilHit = false;
let snapshotted = false;
let panicked = false;
/** The console's current line. */
let line = '';
const marks = values.mark;
const marked = marks.map(() => false);
let migrating = false;
/** The migration under way, if any: the run ends only once it has settled (a --until met meanwhile waits for it). */
let migration = null;
let inspected = false;

/**
 * --inspect-at: pauses every hart (pool.pause()), prints each one's pc, privilege, sp and
 * instruction count from its state block and over RPC, checks that no hart moves while paused,
 * then resumes.
 */
async function inspect() {
  const p0 = performance.now();
  await pool.pause(10_000);
  const pausedMs = performance.now() - p0;
  const hex = (n) => '0x' + n.toString(16);
  const seen = [];
  for (let h = 0; h < harts; h++) {
    const block = pool.stateBlock(h);
    const x = new Int32Array(block, 0, 64);
    const [pc, instret] = new Float64Array(block, 512, 2);
    const r = await /** @type {any} */ (pool.remote(h)).regs();
    seen.push(instret);
    process.stderr.write(
      `inspect: hart ${h} pc=${hex(pc)} rpc-pc=${hex(r.pc)} priv=${r.priv} sp=${hex((x[5] >>> 0) * 2 ** 32 + (x[4] >>> 0))} instret=${instret}\n`,
    );
  }
  await new Promise((r) => setTimeout(r, 100));
  for (let h = 0; h < harts; h++) {
    const [, instret] = new Float64Array(pool.stateBlock(h), 512, 2);
    if (instret !== seen[h]) throw new Error(`hart ${h} ran while paused (${seen[h]} -> ${instret})`);
  }
  const r0 = performance.now();
  pool.resume();
  process.stderr.write(
    `inspect: ${harts} harts were paused and still; resumed (pause ${pausedMs.toFixed(2)} ms, resume ${(performance.now() - r0).toFixed(2)} ms)\n`,
  );
}
const lines = input.length === 0 ? [] : input.split(/(?<=\n)/);
const promptPaced = lines.length > 1 || input.endsWith('\n');
const flush = () => {
  if (pendingOut.length > 0) {
    process.stdout.write(pendingOut);
    pendingOut = '';
  }
};
// console input waits here until the UART's 64-byte FIFO has room
let typed = [];
const feed = () => {
  if (typed.length > 0) typed = typed.slice(uart.enqueue(typed));
  publishLsr();
};
// xv6 needs LSR reads to acknowledge THR empty (lsrAcksThre), so each one exits; otherwise the
// harts read LSR from a shadow word the main thread keeps current (Serial16550.lineStatus after
// every access it serves and every byte it queues), and a console write costs one exit, not two
const lsrAcks = values.kernel === undefined;
const lsrShadow = lsrAcks ? null : new Int32Array(platform.uartLsr);
function publishLsr() {
  if (lsrShadow !== null) Atomics.store(lsrShadow, 0, uart.lineStatus);
}
const uart = new Serial16550(
  {
    // xv6 polls LSR and never reads IIR with THR-empty enabled: an LSR read acknowledges it
    lsrAcksThre: lsrAcks,
    inputDrained: () => feed(),
    output: (b) => {
      const ch = String.fromCharCode(b);
      pendingOut += ch;
      console_ += ch;
      line += ch;
      if (ch === '\n') {
        // a Linux guest that panicked never powers off: end the run with a message
        if (!panicked && line.includes('Kernel panic - not syncing')) {
          panicked = true;
          setTimeout(() => {
            flush();
            process.stderr.write('riscv: the guest kernel panicked (its message is above)\n');
            finish(1);
          }, 300); // the rest of the panic's report first
        }
        line = '';
      }
      if (line.length > 4096) line = line.slice(-1024);
      // --mark: time and instructions (every hart's, as of its last block) when the console shows TEXT
      for (let i = 0; i < marks.length; i++) {
        if (marked[i] || !console_.endsWith(marks[i])) continue;
        marked[i] = true;
        let n = 0;
        for (let h = 0; h < harts; h++) n += new Float64Array(pool.stateBlock(h), 512, 2)[1];
        process.stderr.write(
          `riscv: mark ${JSON.stringify(marks[i])} at ${(performance.now() / 1000).toFixed(3)} s, ${(n / 1e6).toFixed(1)} M instructions\n`,
        );
      }
      if (ch === '\n' || pendingOut.length > 256) flush();
      if (console_.length > 65536) console_ = console_.slice(-4096);
      if (values['inspect-at'] !== undefined && !inspected && console_.includes(values['inspect-at'])) {
        inspected = true;
        inspect().catch((e) => {
          process.stderr.write(`riscv: inspect failed: ${e.message}\n`);
          finish(1);
        });
      }
      if (values.snapshot !== undefined && !snapshotted && console_.includes(values['snapshot-at'])) {
        snapshotted = true;
        snapshot().then(
          () => finish(0),
          (e) => {
            process.stderr.write(`riscv: snapshot failed: ${e.message}\n`);
            finish(1);
          },
        );
      }
      if (migrateTarget !== null && !migrating && console_.includes(values['migrate-at'])) {
        migrating = true;
        migration = migrate().then(
          (ok) => ok && finish(0),
          (e) => {
            process.stderr.write(`riscv: migration failed: ${e.message}\n`);
            finish(1);
          },
        );
      }
      if (values.until !== undefined && !untilHit && console_.includes(values.until)) {
        untilHit = true;
        finish(0);
      }
      // console input, a line at a time, each when the shell shows its prompt
      if (promptPaced && console_.endsWith('$ ')) {
        const next = lines.shift();
        if (next !== undefined) {
          typed.push(...Buffer.from(next, 'latin1'));
          feed();
        }
      }
    },
    interrupt: (high) => plic.setLevel(UART_IRQ, high),
  },
  saved?.uart,
);
if (!promptPaced && input.length > 0) {
  typed = [...Buffer.from(input, 'latin1')];
  feed();
}
let diskFd = null;
if (values.disk !== undefined) {
  try {
    diskFd = openSync(values.disk, 'r+');
  } catch (e) {
    usage(`cannot open disk ${values.disk}: ${e.message}`);
  }
}
// the library's virtio-blk behind its virtio-mmio transport; without a disk, an empty slot
// (device ID 0), as QEMU's virt machine leaves its unused virtio-mmio windows
const blk = diskFd === null ? null : new VirtioBlk({ fd: diskFd }, saved?.blk);
const virtio =
  blk === null
    ? { read: (off) => (off === 0 ? VIRTIO_MMIO_MAGIC : off === 4 ? 2 : 0), write: () => {} }
    : new VirtioMmioTransport(
        blk,
        { mem: memory, interrupt: (high) => plic.setLevel(VIRTIO_IRQ, high) },
        saved?.virtio,
      );

/**
 * --snapshot: pauses every hart and saves the machine (memory; harts; PLIC, msip and mtimecmp;
 * the guest clock; the UART and the virtio-blk transport and device; the console's tail) to the
 * file; --restore continues from it. The disk image is the disk's own file, as with QEMU.
 */
async function snapshot() {
  await pool.pause(10_000);
  const state = await machineState();
  const info = await saveMachineSnapshot(values.snapshot, memory, state);
  flush();
  process.stderr.write(
    `riscv: machine snapshot ${values.snapshot}: ${info.records.length} state records, ${harts} harts\n`,
  );
}

/**
 * --migrate-to: live migration to a machine started with the same options and --incoming.
 * Resolves true once the target has taken over (this machine then stops, its harts paused), or
 * false when the migration failed: the guest then runs on here as if nothing had happened.
 */
async function migrate() {
  let socket;
  try {
    socket = await new Promise((resolve, reject) => {
      const s =
        'path' in migrateTarget
          ? createConnection(migrateTarget.path)
          : createConnection(migrateTarget.port, migrateTarget.host ?? '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  } catch (e) {
    process.stderr.write(`riscv: migration to ${migrateTarget.text} failed (the guest runs on here): ${e.message}\n`);
    return false;
  }
  socket.on('error', () => {}); // migrateTo reports it
  try {
    const r = await migrateTo(socket, {
      memory,
      pause: async () => {
        await pool.pause(10_000);
        flush();
      },
      resume: () => pool.resume(),
      state: machineState,
    });
    socket.end();
    process.stderr.write(
      `riscv: migrated to ${migrateTarget.text}: ${r.rounds} rounds, ${r.pages} pages, ${(r.bytes / 2 ** 20).toFixed(1)} MiB, ` +
        `downtime ${r.downtimeMs.toFixed(1)} ms, ${r.totalMs.toFixed(0)} ms in all\n`,
    );
    return true;
  } catch (e) {
    process.stderr.write(`riscv: migration to ${migrateTarget.text} failed (the guest runs on here): ${e.message}\n`);
    return false;
  }
}

/** The machine's state records (asked while every hart is paused): a snapshot's or a migration's. */
async function machineState() {
  const hartStates = [];
  for (let h = 0; h < harts; h++) hartStates.push(await /** @type {any} */ (pool.remote(h)).save());
  return {
    machine: { harts, mem: memMiB, disk: blk !== null, tohost, isa },
    harts: hartStates,
    plic: plic.irq.state(),
    msip: InterruptController.fromShared(platform.msip).state(),
    mtimecmp: Int32Array.from(new Int32Array(platform.mtimecmp)),
    clock: new GuestTimebase({ frequency: CLOCK_HZ, epoch: platform.t0 }).state,
    uart: uart.state,
    console: console_.slice(-4096),
    rng: rng.state,
    ...(blk === null ? {} : { virtio: /** @type {VirtioMmioTransport} */ (virtio).state, blk: blk.state }),
  };
}
// virtio-rng on the second slot, always (the library's entropy device)
const rng = new VirtioMmioTransport(
  new VirtioRng(),
  { mem: memory, interrupt: (high) => plic.setLevel(RNG_IRQ, high) },
  saved?.rng,
);
// the SiFive test device: 0x5555 powers off (exit 0), 0x7777 asks for a reboot (exit 0 here),
// 0x3333 | code << 16 fails with the code (OpenSBI's system reset on QEMU's virt machine)
const testDevice = {
  read: () => 0,
  write: (_off, _size, v) => {
    const kind = v & 0xffff;
    if (kind !== 0x5555 && kind !== 0x7777 && kind !== 0x3333) return;
    flush();
    if (kind === 0x3333) {
      process.stderr.write(`riscv: the guest reported failure ${v >>> 16}\n`);
      finish(Math.max(1, Math.min(255, v >>> 16)));
    } else {
      if (kind === 0x7777) process.stderr.write('riscv: the guest asked for a reboot; stopping\n');
      finish(0);
    }
  },
};
const devices = new DeviceBus();
publishLsr();
devices.register(
  UART_BASE,
  0x100,
  lsrShadow === null
    ? uart
    : {
        read: (off, size) => {
          const v = uart.read(off, size);
          publishLsr();
          return v;
        },
        write: (off, size, v) => {
          uart.write(off, size, v);
          publishLsr();
        },
      },
  'uart',
);
devices.register(VIRTIO_BASE, 0x1000, virtio, 'virtio');
devices.register(RNG_BASE, 0x1000, rng, 'virtio-rng');
devices.register(TEST_BASE, 0x1000, testDevice, 'test');
const serving = new AbortController();
const served = pool.serveMmio(devices, {
  signal: serving.signal,
  onError: (e) => process.stderr.write(`device: ${e}\n`),
});

// ---- run ----
let done = false;
let exitCode = 0;
let timer;
const t0 = performance.now();
const finished = new Promise((resolve) => {
  globalThis.finish = resolve;
});
function finish(code) {
  if (process.env.RISCV_DEBUG) console.error('finish', code, new Error().stack);
  if (done) return;
  done = true;
  exitCode = code;
  globalThis.finish();
}
pool.on('exit', (_id, r) => {
  if (process.env.RISCV_DEBUG) console.error('exit', _id, r);
  // a guest's exit status (tohost >> 1, up to 2^63) as a process status: 0, or 1-255 (never a
  // failing status that wraps to 0)
  if (r && typeof r.htif === 'number') finish(r.htif === 0 ? 0 : Math.max(1, Math.min(255, Math.floor(r.htif))));
  if (r && typeof r.fatal === 'string') {
    flush();
    process.stderr.write(`riscv: hart ${_id} stopped: ${r.fatal}\n`);
    finish(1);
  }
});
pool.on('error', (e) => {
  process.stderr.write(`riscv: ${e.message}\n`);
  finish(1);
});
if (timeout > 0) {
  timer = setTimeout(() => {
    flush();
    process.stderr.write(`riscv: timed out after ${timeout} s\n`);
    // where every hart was (each one's last block end), to tell a hang from slow progress
    for (let h = 0; h < harts; h++) {
      const [pc, instret] = new Float64Array(pool.stateBlock(h), 512, 2);
      process.stderr.write(`riscv: hart ${h} ${pool.state(h)}, pc 0x${pc.toString(16)}, ${instret} instructions\n`);
    }
    finish(124);
  }, timeout * 1000);
}
await pool.start({
  platform,
  ram: { base: RAM_BASE, size: memMiB * 2 ** 20 },
  entry,
  dtb: dtbAddr,
  uartLsr: lsrShadow === null ? null : platform.uartLsr,
  tohost,
  restore: saved?.harts ?? null,
  path: values.path,
  fpu,
  warmUp: warmUpRounds,
});
// a restored shell waits at its prompt: type the first line now
if (saved !== null && promptPaced && console_.endsWith('$ ')) {
  const next = lines.shift();
  if (next !== undefined) {
    typed.push(...Buffer.from(next, 'latin1'));
    feed();
  }
}
await finished;
if (migration !== null && exitCode !== 124) await migration; // (bounded: migrateTo gives up on a stalled target)
clearTimeout(timer);
let results = [];
try {
  results = await pool.stop();
} catch (e) {
  if (exitCode === 0 && !untilHit) exitCode = 1;
  process.stderr.write(`riscv: ${e.message}\n`);
}
serving.abort();
await served;
await pool.close();
flush();
if (diskFd !== null) closeSync(diskFd);
if (values.stats) {
  const secs = (performance.now() - t0) / 1000;
  const ipis = new Int32Array(platform.stats)[0];
  process.stderr.write(`\n--- ${harts} hart(s), ${secs.toFixed(2)} s, memory path ${values.path}\n`);
  for (const r of results) {
    if (!r) continue;
    process.stderr.write(
      `hart ${r.hart}: ${(r.instret / 1e6).toFixed(1)} M instructions, ${r.mips.toFixed(1)} MIPS, ` +
        `${r.interrupts} interrupts, ${r.traps - r.interrupts} exceptions, ${r.wfi} WFI sleeps, ${r.naps} spin naps, ${r.exits} MMIO exits\n`,
    );
    const [u, sv, , m] = r.byPriv;
    const all = u + sv + m || 1;
    process.stderr.write(
      `  by privilege (per 8192-instruction block): M ${((100 * m) / all).toFixed(1)}%, S ${((100 * sv) / all).toFixed(1)}%, U ${((100 * u) / all).toFixed(1)}%; ${r.tlbMiss} TLB misses\n`,
    );
  }
  process.stderr.write(
    `IPIs (msip writes): ${ipis}; disk requests: ${/** @type {any} */ (virtio).device?.state.requests ?? 0}\n`,
  );
}
process.exitCode = exitCode;
