/**
 * The vCPU control block: one SharedArrayBuffer with a 64-byte record (16 Int32 words, one cache
 * line, so vCPUs never false-share) per vCPU. The main thread writes requests, the vCPU thread
 * writes its run state; both sides use Atomics only.
 *
 * Wake-up protocol: every request first sets its flag or bits, then bumps DOORBELL and notifies
 * it, so a vCPU that read DOORBELL before checking the flags can never sleep through a request
 * (`Atomics.wait` returns at once if DOORBELL moved). Requests that need the vCPU to leave its
 * fast loop (stop, pause, resume, RPC) also bump ATTENTION, which `checkpoint()` compares with
 * one load.
 */

/** Field indices within a vCPU's record. */
export const Field = {
  /** Run state, one of RunState (written by the vCPU thread). */
  STATE: 0,
  /** 1 when a stop was requested. */
  STOP: 1,
  /** 1 while a pause is requested. */
  PAUSE: 2,
  /** Counter bumped by every request; `waitForInterrupt` waits on it. */
  DOORBELL: 3,
  /** Pending interrupt lines, one bit each (0-31). */
  IRQ: 4,
  /** Counter bumped by requests that need a checkpoint (stop, pause, resume, RPC). */
  ATTENTION: 5,
  /** RPC messages posted to the vCPU / answered by it. */
  RPC_SENT: 6,
  RPC_DONE: 7,
  /** Number of kicks (statistics). */
  KICKS: 8,
} as const;

/** Words per vCPU record (64 bytes). */
export const RECORD_WORDS = 16;

/** Values of Field.STATE. */
export const RunState = {
  IDLE: 0,
  STARTING: 1,
  RUNNING: 2,
  PARKED: 3,
  DONE: 4,
  FAILED: 5,
} as const;

export const STATE_NAMES = ['idle', 'starting', 'running', 'parked', 'done', 'failed'] as const;
export type VcpuState = (typeof STATE_NAMES)[number];

/** A view of one vCPU's record: `at(Field.X)` is the Int32 index to use with Atomics. */
export class ControlRecord {
  readonly words: Int32Array;
  readonly base: number;

  constructor(buffer: SharedArrayBuffer, id: number) {
    this.words = new Int32Array(buffer);
    this.base = id * RECORD_WORDS;
  }

  load(field: number): number {
    return Atomics.load(this.words, this.base + field);
  }

  store(field: number, value: number): void {
    Atomics.store(this.words, this.base + field, value);
  }

  /** Sets the run state and wakes whoever waits for it. */
  setState(state: number): void {
    Atomics.store(this.words, this.base + Field.STATE, state);
    Atomics.notify(this.words, this.base + Field.STATE);
  }

  /** Bumps DOORBELL (and ATTENTION if `attention`) and wakes the vCPU; see the protocol above. */
  ring(attention: boolean): void {
    const w = this.words;
    if (attention) {
      Atomics.add(w, this.base + Field.ATTENTION, 1);
      Atomics.notify(w, this.base + Field.ATTENTION);
    }
    Atomics.add(w, this.base + Field.DOORBELL, 1);
    Atomics.notify(w, this.base + Field.DOORBELL);
  }
}

/** A zeroed control buffer for `vcpus` records. */
export function createControl(vcpus: number): SharedArrayBuffer {
  return new SharedArrayBuffer(vcpus * RECORD_WORDS * 4);
}
