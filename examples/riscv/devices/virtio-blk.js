// A virtio-mmio (version 2) block device over a disk image file, served on the device thread.
// Requests travel with the library's SplitQueue (hostile-driver checks included) and move
// straight between the file and guest memory with positional fd I/O (pread/pwrite).
import { fstatSync } from 'node:fs';
import { SplitQueue, le32, le64, u8 } from 'guestmem';

const MAGIC = 0x74726976;
const SECTOR = 512;
const VIRTIO_BLK_T_IN = 0;
const VIRTIO_BLK_T_OUT = 1;
const VIRTIO_BLK_T_GET_ID = 8;
const VIRTIO_F_VERSION_1 = 32; // feature bit

export class VirtioBlk {
  constructor({ mem, fd, setIrq }) {
    this.mem = mem;
    this.fd = fd;
    this.setIrq = setIrq;
    this.capacity = fd === null ? 0 : Math.floor(fstatSync(fd).size / SECTOR);
    this.reset();
    this.requests = 0;
  }

  reset() {
    this.status = 0;
    this.devFeatSel = 0;
    this.drvFeatSel = 0;
    this.drvFeatures = [0, 0];
    this.queueSel = 0;
    this.num = 0;
    this.ready = 0;
    this.desc = [0, 0];
    this.driver = [0, 0];
    this.device = [0, 0];
    this.isr = 0;
    this.queue = null;
    this.setIrq(false);
  }

  read(off) {
    switch (off) {
      case 0x000:
        return MAGIC;
      case 0x004:
        return 2;
      case 0x008:
        return this.fd === null ? 0 : 2; // block device
      case 0x00c:
        return 0x554d4551;
      case 0x010:
        return this.devFeatSel === 1 ? 1 << (VIRTIO_F_VERSION_1 - 32) : 0;
      case 0x034:
        return this.queueSel === 0 ? 1024 : 0; // QueueNumMax
      case 0x044:
        return this.queueSel === 0 ? this.ready : 0;
      case 0x060:
        return this.isr;
      case 0x070:
        return this.status;
      case 0x0fc:
        return 0; // config generation
      case 0x100:
        return this.capacity >>> 0;
      case 0x104:
        return Math.floor(this.capacity / 2 ** 32);
      default:
        return 0;
    }
  }

  write(off, v) {
    switch (off) {
      case 0x014:
        this.devFeatSel = v;
        break;
      case 0x020:
        if (this.drvFeatSel < 2) this.drvFeatures[this.drvFeatSel] = v;
        break;
      case 0x024:
        this.drvFeatSel = v;
        break;
      case 0x030:
        this.queueSel = v;
        break;
      case 0x038:
        if (this.queueSel === 0) this.num = v;
        break;
      case 0x044:
        if (this.queueSel === 0) {
          this.ready = v & 1;
          this.queue = null;
          if (this.ready) {
            const addr = (p) => p[0] + p[1] * 2 ** 32;
            this.queue = new SplitQueue(this.mem, {
              size: this.num,
              desc: addr(this.desc),
              avail: addr(this.driver),
              used: addr(this.device),
            });
          }
        }
        break;
      case 0x050:
        if (v === 0) this.process();
        break;
      case 0x064:
        this.isr &= ~v;
        if (this.isr === 0) this.setIrq(false);
        break;
      case 0x070:
        if (v === 0) this.reset();
        else this.status = v;
        break;
      case 0x080:
        this.desc[0] = v;
        break;
      case 0x084:
        this.desc[1] = v;
        break;
      case 0x090:
        this.driver[0] = v;
        break;
      case 0x094:
        this.driver[1] = v;
        break;
      case 0x0a0:
        this.device[0] = v;
        break;
      case 0x0a4:
        this.device[1] = v;
        break;
    }
  }

  /** Serves every available request, then interrupts the driver if it asked to be. */
  process() {
    const q = this.queue;
    if (q === null) return;
    let done = 0;
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      const d = chain.descriptors;
      const header = d[0];
      const statusDesc = d[d.length - 1];
      const type = this.mem.readObj(le32, header.addr);
      const sector = Number(this.mem.readObj(le64, header.addr + 8));
      let status = 0;
      let written = 0;
      try {
        let pos = sector * SECTOR;
        for (const b of d.slice(1, -1)) {
          if (type === VIRTIO_BLK_T_IN) {
            if (!b.write) throw new Error('read into a read-only buffer');
            this.mem.readExactFrom(b.addr, this.fd, b.len, pos);
            written += b.len;
          } else if (type === VIRTIO_BLK_T_OUT) {
            this.mem.writeAllTo(b.addr, this.fd, b.len, pos);
          } else if (type === VIRTIO_BLK_T_GET_ID) {
            this.mem.writeSlice(new TextEncoder().encode('guestmem'.padEnd(Math.min(20, b.len), '\0')), b.addr);
          } else status = 2; // unsupported
          pos += b.len;
        }
      } catch {
        status = 1; // I/O error
      }
      this.mem.writeObj(u8, status, statusDesc.addr);
      q.addUsed(chain.head, written + 1);
      this.requests++;
      done++;
    }
    if (done > 0 && q.needsNotification()) {
      this.isr |= 1;
      this.setIrq(true);
    }
  }
}
