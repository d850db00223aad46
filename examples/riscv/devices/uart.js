// A 16550 UART (the registers xv6 and most firmware use), served on the device thread: output
// goes to a callback at once; input is typed in as the guest reads it, one byte at a time.
// Interrupt (PLIC source 10, level): received data available with IER.ERBFI, or transmitter
// empty with IER.ETBEI (until the guest reads IIR or LSR, or writes THR; see LSR below).
const RBR_THR = 0,
  IER = 1,
  IIR_FCR = 2,
  LCR = 3,
  MCR = 4,
  LSR = 5,
  MSR = 6,
  SCR = 7;

export class Uart {
  constructor({ output, setIrq }) {
    this.output = output;
    this.setIrq = setIrq;
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.dll = 0;
    this.dlm = 0;
    this.rx = []; // bytes typed and not yet read
    this.thrPending = false;
    this.reads = 0;
  }

  /** Types `bytes` into the console. */
  type(bytes) {
    for (const b of bytes) this.rx.push(b);
    this.update();
  }

  update() {
    const irq = ((this.ier & 1) !== 0 && this.rx.length > 0) || ((this.ier & 2) !== 0 && this.thrPending);
    this.setIrq(irq);
  }

  read(off) {
    const dlab = (this.lcr & 0x80) !== 0;
    let v = 0;
    switch (off) {
      case RBR_THR:
        if (dlab) v = this.dll;
        else {
          v = this.rx.length > 0 ? this.rx.shift() : 0;
          this.reads++;
        }
        break;
      case IER:
        v = dlab ? this.dlm : this.ier;
        break;
      case IIR_FCR:
        if (this.ier & 1 && this.rx.length > 0) v = 0x04;
        else if (this.ier & 2 && this.thrPending) {
          v = 0x02;
          this.thrPending = false;
        } else v = 0x01;
        v |= 0xc0; // FIFOs enabled
        break;
      case LCR:
        v = this.lcr;
        break;
      case MCR:
        v = this.mcr;
        break;
      case LSR:
        v = 0x60 | (this.rx.length > 0 ? 1 : 0); // THR empty, transmitter empty, data ready
        // A status read also acknowledges a pending THR-empty interrupt. A 16550 clears it
        // only on an IIR read or a THR write; xv6 does neither when it has nothing to send, so
        // the interrupt would stay asserted and storm (every hart re-taking it at once).
        this.thrPending = false;
        break;
      case MSR:
        v = 0xb0;
        break;
      case SCR:
        v = this.scr;
        break;
    }
    this.update();
    return v;
  }

  write(off, value) {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case RBR_THR:
        if (dlab) this.dll = value;
        else {
          this.output(value & 0xff);
          this.thrPending = true; // sent at once: the holding register is empty again
        }
        break;
      case IER:
        if (dlab) this.dlm = value;
        else {
          const was = this.ier;
          this.ier = value & 0x0f;
          if (!(was & 2) && this.ier & 2) this.thrPending = true;
        }
        break;
      case LCR:
        this.lcr = value;
        break;
      case MCR:
        this.mcr = value;
        break;
      case SCR:
        this.scr = value;
        break;
    }
    this.update();
  }
}
