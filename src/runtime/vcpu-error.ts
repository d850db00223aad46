/** The error of a vCPU that failed: its id, why, and the underlying error as `cause`. */

/** Why a vCPU failed. */
export type VcpuErrorCode =
  /** The vCPU module could not be loaded or has no default export function. */
  | 'ERR_VCPU_MODULE'
  /** The vCPU function threw (or its promise rejected); `cause` is that error. */
  | 'ERR_VCPU_FAILED'
  /** The vCPU thread was killed through an AbortSignal or `pool.kill(id)`. */
  | 'ERR_VCPU_ABORTED'
  /** The vCPU thread died (process.exit in the worker, an uncaught error outside the task, …). */
  | 'ERR_VCPU_TERMINATED';

export class VcpuError extends Error {
  /** The failed vCPU's id. */
  readonly vcpu: number;
  readonly code: VcpuErrorCode;

  constructor(vcpu: number, code: VcpuErrorCode, message: string, cause: unknown) {
    super(`vCPU ${vcpu}: ${message}`, { cause });
    this.name = 'VcpuError';
    this.vcpu = vcpu;
    this.code = code;
  }
}
