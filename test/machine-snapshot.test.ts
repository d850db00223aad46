// Machine snapshots: memory and named state records in one checksummed file, round trips in
// this process and in a fresh one, and damaged files refused before anything is restored.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyMachineSnapshot,
  GuestMemoryMmap,
  InterruptController,
  loadMachineSnapshot,
  readMachineSnapshotHeader,
  saveMachineSnapshot,
  u32,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmem-machine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `m${n++}.gmm`);

function machine(): { mem: GuestMemoryMmap; state: Record<string, unknown> } {
  const mem = GuestMemoryMmap.fromRanges([
    [0x8000_0000, 4 << 20],
    [0x1_0000_0000, 1 << 20],
  ]);
  for (let a = 0; a < 4 << 20; a += 4096) mem.writeObj(u32, (a * 2654435761) >>> 0, 0x8000_0000 + a);
  mem.writeObj(u32, 0xfeed, 0x1_0000_0010);
  const irq = new InterruptController({ sources: 8, targets: 2 });
  irq.setPriority(3, 2);
  irq.setEnabled(1, 3, true);
  irq.setLevel(3, true);
  const state = {
    cpus: [Int32Array.from({ length: 64 }, (_, i) => i * 7), Int32Array.from({ length: 64 }, (_, i) => -i)],
    pc: [0x8000_0000, 0x8000_1234],
    plic: irq.state(),
    clock: { ticks: 123_456_789n, frequency: 10_000_000 },
    disk: { requests: 12, failed: 0, queues: [{ nextAvail: 5, nextUsed: 5 }] },
  };
  return { mem, state };
}

function same(a: GuestMemoryMmap, b: GuestMemoryMmap): boolean {
  const ra = [...a.iter()];
  const rb = [...b.iter()];
  if (ra.length !== rb.length) return false;
  return ra.every((r, i) => {
    const x = new Uint8Array(r.len);
    const y = new Uint8Array(rb[i]!.len);
    a.readSlice(x, r.startAddr);
    b.readSlice(y, rb[i]!.startAddr);
    return r.startAddr === rb[i]!.startAddr && Buffer.compare(x, y) === 0;
  });
}

describe('machine snapshots', () => {
  it('save then load gives the same memory and state records (typed arrays, bigints, controller state)', async () => {
    const { mem, state } = machine();
    const p = file();
    const info = await saveMachineSnapshot(p, mem, state, { sync: false });
    expect(info.records.map((r) => r.name)).toEqual(['cpus', 'pc', 'plic', 'clock', 'disk']);
    expect(readMachineSnapshotHeader(p).memory.regions).toEqual([
      { base: 0x8000_0000, size: 4 << 20 },
      { base: 0x1_0000_0000, size: 1 << 20 },
    ]);
    const back = await loadMachineSnapshot(p);
    expect(same(back.memory, mem)).toBe(true);
    expect(back.state).toEqual(state);
    expect(back.state.cpus).toEqual(state.cpus);
    expect((back.state.cpus as Int32Array[])[1]).toBeInstanceOf(Int32Array);
    const irq = InterruptController.fromState(back.state.plic as never);
    expect(irq.claim(1)).toBe(3);
    // applied over a machine that ran on
    const other = GuestMemoryMmap.fromRanges([
      [0x8000_0000, 4 << 20],
      [0x1_0000_0000, 1 << 20],
    ]);
    other.writeObj(u32, 1, 0x8000_0000 + 8);
    expect(await applyMachineSnapshot(other, p)).toEqual(state);
    expect(same(other, mem)).toBe(true);
  });

  it('a fresh process restores it', async () => {
    const { mem, state } = machine();
    const p = file();
    await saveMachineSnapshot(p, mem, state, { sync: false });
    const script = `import { loadMachineSnapshot, u32 } from 'guestmem';
      const { memory, state } = await loadMachineSnapshot(${JSON.stringify(p)});
      process.stdout.write(JSON.stringify({ w: memory.readObj(u32, 0x1_0000_0010), ticks: String(state.clock.ticks), r: state.cpus[0][9] }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ w: 0xfeed, ticks: '123456789', r: 63 });
  });

  it('a damaged record, damaged memory, a cut file or another format is ERR_SNAPSHOT_FORMAT, nothing restored', async () => {
    const { mem, state } = machine();
    const p = file();
    await saveMachineSnapshot(p, mem, state, { sync: false });
    const good = readFileSync(p);
    const headerEnd = 16 + good.readUInt32LE(8);
    const target = GuestMemoryMmap.fromRanges([
      [0x8000_0000, 4 << 20],
      [0x1_0000_0000, 1 << 20],
    ]);
    target.writeObj(u32, 0xabcdef, 0x8000_0100);
    const bad = file();
    for (const at of [10, headerEnd - 2, headerEnd + 5, good.length - 4000, good.length - 30]) {
      const b = Buffer.from(good);
      b[at]! ^= 0x40;
      writeFileSync(bad, b);
      await expect(applyMachineSnapshot(target, bad)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
      await expect(loadMachineSnapshot(bad)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    }
    writeFileSync(bad, good.subarray(0, good.length - 100));
    await expect(applyMachineSnapshot(target, bad)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    writeFileSync(bad, good.subarray(0, headerEnd + 3));
    await expect(loadMachineSnapshot(bad)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    writeFileSync(bad, 'GMSNAP03 not a machine');
    await expect(loadMachineSnapshot(bad)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    expect(target.readObj(u32, 0x8000_0100)).toBe(0xabcdef); // untouched throughout
    expect(target.readObj(u32, 0x8000_0000 + 4096)).toBe(0);
  });

  it('state that cannot be cloned, or bad arguments, are TypeErrors and no file is left behind', async () => {
    const { mem } = machine();
    const p = file();
    await expect(saveMachineSnapshot(p, mem, { dev: { f: () => 1 } })).rejects.toThrow(TypeError);
    await expect(saveMachineSnapshot(p, mem, { buf: new SharedArrayBuffer(8) })).rejects.toThrow(TypeError);
    await expect(saveMachineSnapshot(p, mem, [] as never)).rejects.toThrow(TypeError);
    await expect(saveMachineSnapshot(p, {} as never, {})).rejects.toThrow(TypeError);
    await expect(saveMachineSnapshot(p, mem, { ['x'.repeat(300)]: 1 })).rejects.toThrow(TypeError);
    expect(existsSync(p)).toBe(false);
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    const other = GuestMemoryMmap.fromRanges([[0, 1 << 20]]);
    const q = file();
    await saveMachineSnapshot(q, mem, {}, { sync: false });
    await expect(applyMachineSnapshot(other, q)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_LAYOUT' });
  });
});
