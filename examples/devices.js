// Devices on both placements, an IPI and a timer: two vCPUs share one in-vCPU timer device;
// their console device exits to this thread, which prints what they write.
import { GuestMemoryMmap, VcpuPool, monotonicNow } from 'guestmem';

const memory = GuestMemoryMmap.fromRanges([[0x8000_0000, 1 << 20]]);
const pool = new VcpuPool({ memory, vcpus: 2, module: new URL('./devices-vcpu.js', import.meta.url) });
const stop = new AbortController();
let line = '';
const serving = pool.serveMmio(
  (req) => {
    if (!req.write) return 0;
    line += String.fromCharCode(req.value);
    if (req.value === 10) {
      process.stdout.write(line);
      line = '';
    }
  },
  { signal: stop.signal },
);
await pool.start({ start: monotonicNow() });
console.log('results:', await pool.join());
stop.abort();
await serving;
await pool.close();
