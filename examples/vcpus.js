import { GuestMemoryMmap, VcpuPool, u32 } from 'guestmem';

const memory = GuestMemoryMmap.fromRanges([[0, 1 << 20]]);
const pool = new VcpuPool({ memory, vcpus: 2, module: new URL('./vcpu.js', import.meta.url) });
await pool.start(); // every vCPU is running when this resolves
await new Promise((resolve) => setTimeout(resolve, 100));

await pool.pause(); // every vCPU is parked at a checkpoint
const regs = await Promise.all([0, 1].map((id) => pool.remote(id).regs()));
console.log('paused; counter', memory.load(u32, 0), 'regs', regs);
pool.resume();
await new Promise((resolve) => setTimeout(resolve, 50));

const passes = /** @type {number[]} */ (await pool.stop()); // each vCPU's return value, in id order
console.log('stopped; passes', passes, 'counter exact:', memory.load(u32, 0) === passes[0] + passes[1]);
await pool.close();
