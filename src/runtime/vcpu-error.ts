/**
 * The runtime layer's errors. `VcpuPoolError` is every failure of the pool and its vCPU side that
 * is not a memory operation (misuse, timeouts, missing modules); `VcpuError`, a subclass, is the
 * failure of one vCPU, with its id and the underlying error as `cause`.
 */

/** Every `code` a VcpuPoolError (or VcpuError) can have. */
export const VCPU_POOL_ERROR_CODES = [
  /** start()/run() after close(). */
  'ERR_VCPU_POOL_CLOSED',
  /** start() while a run is going on. */
  'ERR_VCPU_POOL_RUNNING',
  /** pause()/resume()/remote()/kill() with no run going on. */
  'ERR_VCPU_POOL_NOT_RUNNING',
  /** A vCPU did not reach a checkpoint within pause()'s timeout. */
  'ERR_VCPU_PAUSE_TIMEOUT',
  /** The module option names no file. */
  'ERR_MODULE_NOT_FOUND',
  /** Run from the TypeScript sources, the pool found dist/ missing or older than a source: run `npm run build:ts`. */
  'ERR_VCPU_STALE_BUILD',
  /** ctx.expose() called twice. */
  'ERR_VCPU_EXPOSED',
  /** A remote() call to a vCPU that has returned, failed, or whose run was stopped. */
  'ERR_VCPU_GONE',
  /** The vCPU could not start: its memory descriptor was refused, or its module could not be loaded or has no default export function (VcpuError; `cause` says which). */
  'ERR_VCPU_MODULE',
  /** The vCPU function threw (or its promise rejected); `cause` is that error (VcpuError). */
  'ERR_VCPU_FAILED',
  /** The vCPU thread was killed through an AbortSignal or `pool.kill(id)` (VcpuError). */
  'ERR_VCPU_ABORTED',
  /** The vCPU thread died: process.exit in the worker, an error outside the task, … (VcpuError). */
  'ERR_VCPU_TERMINATED',
] as const;

/** One of VCPU_POOL_ERROR_CODES. */
export type VcpuPoolErrorCode = (typeof VCPU_POOL_ERROR_CODES)[number];

/** Why a vCPU failed. */
export type VcpuErrorCode = Extract<
  VcpuPoolErrorCode,
  'ERR_VCPU_MODULE' | 'ERR_VCPU_FAILED' | 'ERR_VCPU_ABORTED' | 'ERR_VCPU_TERMINATED'
>;

/** A failure of the pool or of its vCPU side that is not a memory operation: misuse, timeouts, missing modules (`code` from VCPU_POOL_ERROR_CODES; docs/errors.md lists them). */
export class VcpuPoolError extends Error {
  /** Why it failed. */
  readonly code: VcpuPoolErrorCode;

  constructor(code: VcpuPoolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VcpuPoolError';
    this.code = code;
  }
}

/** The failure of one vCPU: `vcpu` is its id, `cause` the error it threw (ERR_VCPU_FAILED), or why its thread is gone (ERR_VCPU_ABORTED, ERR_VCPU_TERMINATED, ERR_VCPU_MODULE). */
export class VcpuError extends VcpuPoolError {
  /** The failed vCPU's id. */
  readonly vcpu: number;
  declare readonly code: VcpuErrorCode;

  constructor(vcpu: number, code: VcpuErrorCode, message: string, cause: unknown) {
    super(code, `vCPU ${vcpu}: ${message}`, { cause });
    this.name = 'VcpuError';
    this.vcpu = vcpu;
  }
}
