import { rangeError, typeError } from '../internal/args.js';
import type { MmioDevice } from './device-bus.js';

/** Bytes the receive FIFO holds (a 16550A's): input beyond it waits in the caller. */
export const SERIAL_FIFO_SIZE = 64;

// register indices (offset >> regShift)
const DATA = 0; // RBR (read) / THR (write); DLL with DLAB
const IER = 1; // DLM with DLAB
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const IER_RDA = 0x01; // received data available
const IER_THRE = 0x02; // transmitter holding register empty
const IIR_NONE = 0x01;
const IIR_THRE = 0x02;
const IIR_RDA = 0x04;
const IIR_FIFO = 0xc0;
const LCR_DLAB = 0x80;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MCR_LOOP = 0x10;

/** How a serial port reaches the machine. */
export interface SerialOptions {
  /** Drives the port's interrupt line (level-triggered: high while an enabled cause is pending). */
  readonly interrupt: (level: boolean) => void;
  /** Where transmitted bytes go, one at a time (the guest's console output). */
  readonly output: (byte: number) => void;
  /** Register stride as a shift: register i is at offset i << regShift (0 for I/O ports and byte MMIO, 2 for 32-bit). */
  readonly regShift?: number;
  /**
   * Also acknowledge a pending THR-empty interrupt when the guest reads LSR. A real 16550A does
   * it on an IIR read or a THR write only; a guest that polls LSR and never reads IIR with THRE
   * enabled (xv6) would see the interrupt stay raised. Default false.
   */
  readonly lsrAcksThre?: boolean;
  /** Called when the guest has read the last byte of the receive FIFO (room for more input). */
  readonly inputDrained?: () => void;
}

/** A serial port's registers and FIFO contents as plain (structured-clone) data. */
export interface SerialState {
  /** IER (interrupt enables, 4 bits). */
  readonly ier: number;
  /** LCR (line control; bit 7 is DLAB). */
  readonly lcr: number;
  /** MCR (modem control, 5 bits; bit 4 is loopback). */
  readonly mcr: number;
  /** SCR (scratch). */
  readonly scr: number;
  /** The divisor latch, low byte. */
  readonly dll: number;
  /** The divisor latch, high byte. */
  readonly dlm: number;
  /** FIFOs enabled (FCR bit 0). */
  readonly fifo: boolean;
  /** A THR-empty interrupt is pending (raised, not acknowledged yet). */
  readonly threPending: boolean;
  /** Input was dropped since LSR was last read (LSR.OE). */
  readonly overrun: boolean;
  /** Bytes received and not read yet, oldest first (at most SERIAL_FIFO_SIZE). */
  readonly rx: readonly number[];
}

const byte = (name: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw rangeError(name, 'a byte (0-255)', v);
  return v;
};

/**
 * A 16550A UART, after rust-vmm's vm-superio `Serial`: an injected interrupt line and output
 * writer, a 64-byte receive FIFO the host fills with `enqueue`, and the registers with a real
 * 16550A's rules: IIR reports the highest-priority pending cause (received data, then THR
 * empty) and reading it acknowledges THR empty, as a THR write does; LSR.DR follows the FIFO
 * and LSR.OE records input that did not fit; loopback mode (MCR bit 4) sends THR to the
 * receiver and reflects MCR in MSR; the divisor latch is behind LCR.DLAB. Output is immediate,
 * so THR is always empty again after a write. Accesses of any width reach the register at
 * `offset >> regShift` (offsets between registers read 0 and are ignored); an MmioDevice for a
 * DeviceBus, or an I/O port device at regShift 0.
 */
export class Serial16550 implements MmioDevice {
  readonly #interrupt: (level: boolean) => void;
  readonly #output: (byte: number) => void;
  readonly #shift: number;
  readonly #lsrAcks: boolean;
  readonly #drained: (() => void) | undefined;
  #ier = 0;
  #lcr = 0;
  #mcr = 0;
  #scr = 0;
  #dll = 0;
  #dlm = 0;
  #fifo = false;
  #thre = false;
  #overrun = false;
  /** The receive FIFO: a ring of SERIAL_FIFO_SIZE bytes. */
  readonly #rx = new Uint8Array(SERIAL_FIFO_SIZE);
  #rxHead = 0;
  #rxLen = 0;
  #level = false;

  /** With `state` (what {@link Serial16550.state} gave), the port resumes as it was. */
  constructor(options: SerialOptions, state?: SerialState) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'a SerialOptions object', options);
    if (typeof options.interrupt !== 'function') throw typeError('options.interrupt', 'a function', options.interrupt);
    if (typeof options.output !== 'function') throw typeError('options.output', 'a function', options.output);
    const shift = options.regShift ?? 0;
    if (!Number.isInteger(shift) || shift < 0 || shift > 3)
      throw rangeError('options.regShift', 'an integer from 0 to 3', shift);
    this.#interrupt = options.interrupt;
    this.#output = options.output;
    this.#shift = shift;
    this.#lsrAcks = options.lsrAcksThre === true;
    this.#drained = options.inputDrained;
    if (state !== undefined) {
      if (state === null || typeof state !== 'object') throw typeError('state', 'a SerialState object', state);
      this.#ier = byte('state.ier', state.ier) & 0x0f;
      this.#lcr = byte('state.lcr', state.lcr);
      this.#mcr = byte('state.mcr', state.mcr) & 0x1f;
      this.#scr = byte('state.scr', state.scr);
      this.#dll = byte('state.dll', state.dll);
      this.#dlm = byte('state.dlm', state.dlm);
      this.#fifo = state.fifo === true;
      this.#thre = state.threPending === true;
      this.#overrun = state.overrun === true;
      if (!Array.isArray(state.rx) || state.rx.length > SERIAL_FIFO_SIZE)
        throw rangeError('state.rx', `at most ${SERIAL_FIFO_SIZE} bytes`, state.rx);
      state.rx.forEach((b, i) => (this.#rx[i] = byte(`state.rx[${i}]`, b)));
      this.#rxLen = state.rx.length;
      this.#update();
    }
  }

  /** Room left in the receive FIFO. */
  get inputSpace(): number {
    return SERIAL_FIFO_SIZE - this.#rxLen;
  }

  /**
   * Puts received bytes into the FIFO, as many as fit; returns how many it took (the caller
   * keeps the rest, for example until `inputDrained`). Raises the data-available interrupt
   * when enabled.
   */
  enqueue(bytes: Uint8Array | readonly number[]): number {
    let n = 0;
    for (; n < bytes.length && this.#rxLen < SERIAL_FIFO_SIZE; n++) this.#push(bytes[n]! & 0xff);
    this.#update();
    return n;
  }

  read(offset: number, _size: number): number {
    if (offset & ((1 << this.#shift) - 1)) return 0;
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    let v = 0;
    switch (offset >> this.#shift) {
      case DATA:
        if (dlab) v = this.#dll;
        else if (this.#rxLen > 0) {
          v = this.#rx[this.#rxHead]!;
          this.#rxHead = (this.#rxHead + 1) % SERIAL_FIFO_SIZE;
          this.#rxLen--;
          if (this.#rxLen === 0) this.#drained?.();
        }
        break;
      case IER:
        v = dlab ? this.#dlm : this.#ier;
        break;
      case IIR_FCR:
        if (this.#ier & IER_RDA && this.#rxLen > 0) v = IIR_RDA;
        else if (this.#ier & IER_THRE && this.#thre) {
          v = IIR_THRE;
          this.#thre = false; // reading IIR with THR empty reported acknowledges it
        } else v = IIR_NONE;
        if (this.#fifo) v |= IIR_FIFO;
        break;
      case LCR:
        v = this.#lcr;
        break;
      case MCR:
        v = this.#mcr;
        break;
      case LSR:
        v = this.lineStatus;
        this.#overrun = false;
        if (this.#lsrAcks) this.#thre = false;
        break;
      case MSR:
        if (this.#mcr & MCR_LOOP) {
          // loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD
          const m = this.#mcr;
          v = ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4);
        } else v = 0xb0; // DCD, DSR, CTS: a terminal is there
        break;
      case SCR:
        v = this.#scr;
        break;
    }
    this.#update();
    return v;
  }

  write(offset: number, _size: number, value: number): void {
    if (offset & ((1 << this.#shift) - 1)) return;
    const v = value & 0xff;
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (offset >> this.#shift) {
      case DATA:
        if (dlab) this.#dll = v;
        else {
          if (this.#mcr & MCR_LOOP) {
            if (this.#rxLen < SERIAL_FIFO_SIZE) this.#push(v);
            else this.#overrun = true;
          } else this.#output(v);
          this.#thre = true; // sent at once: the holding register is empty again
        }
        break;
      case IER:
        if (dlab) this.#dlm = v;
        else {
          const was = this.#ier;
          this.#ier = v & 0x0f;
          // enabling THR-empty interrupts while THR is empty raises one at once
          if (!(was & IER_THRE) && this.#ier & IER_THRE) this.#thre = true;
        }
        break;
      case IIR_FCR:
        this.#fifo = (v & 1) !== 0;
        if (v & 2) {
          this.#rxHead = 0;
          this.#rxLen = 0;
        }
        break;
      case LCR:
        this.#lcr = v;
        break;
      case MCR:
        this.#mcr = v & 0x1f;
        break;
      case SCR:
        this.#scr = v;
        break;
      default:
        break; // LSR and MSR are read-only
    }
    this.#update();
  }

  /**
   * LSR as a guest's read would return it now, without the read's side effects (clearing the
   * overrun bit; with `lsrAcksThre`, acknowledging THR empty): what a status shadow holds, a
   * word in shared memory that a vCPU reads without an exit while every other access exits.
   */
  get lineStatus(): number {
    return LSR_THRE | LSR_TEMT | (this.#rxLen > 0 ? LSR_DR : 0) | (this.#overrun ? LSR_OE : 0);
  }

  /** The registers and FIFO as plain data (the constructor's `state`). */
  get state(): SerialState {
    const rx: number[] = [];
    for (let i = 0; i < this.#rxLen; i++) rx.push(this.#rx[(this.#rxHead + i) % SERIAL_FIFO_SIZE]!);
    return {
      ier: this.#ier,
      lcr: this.#lcr,
      mcr: this.#mcr,
      scr: this.#scr,
      dll: this.#dll,
      dlm: this.#dlm,
      fifo: this.#fifo,
      threPending: this.#thre,
      overrun: this.#overrun,
      rx,
    };
  }

  #push(b: number): void {
    this.#rx[(this.#rxHead + this.#rxLen) % SERIAL_FIFO_SIZE] = b;
    this.#rxLen++;
  }

  #update(): void {
    const level = (this.#ier & IER_RDA && this.#rxLen > 0) || (this.#ier & IER_THRE && this.#thre) ? true : false;
    if (level !== this.#level) {
      this.#level = level;
      this.#interrupt(level);
    }
  }
}
