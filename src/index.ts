// guestmem: guest physical memory for Node.js emulators and VMMs (see README.md, DESIGN.md).
export { GuestMemoryError, GUEST_MEMORY_ERROR_KINDS } from './errors.js';
export type { GuestMemoryErrorKind, GuestMemoryErrorFields } from './errors.js';
export {
  u8,
  i8,
  u16,
  i16,
  u32,
  i32,
  u64,
  i64,
  f32,
  f64,
  le16,
  le32,
  le64,
  be16,
  be32,
  be64,
  struct,
  packed,
  array,
  ValueType,
} from './types.js';
export type { ValueOf, WriteValue, StructValue, FieldList } from './types.js';
export { constants } from './constants.js';
export type { MmapConstants } from './constants.js';
export { FileOffset } from './file-offset.js';
export { MmapRegion } from './mmap-region.js';
export type { MappingOptions, SharedMapping } from './mmap-region.js';
export { AtomicBitmap, DEFAULT_DIRTY_PAGE_SIZE } from './atomic-bitmap.js';
export type { SharedBitmap } from './atomic-bitmap.js';
export { VolatileSlice } from './volatile-slice.js';
export { VolatileRef, VolatileArrayRef } from './volatile-ref.js';
export type { ArrayLikeOf } from './volatile-ref.js';
export type { TypedArray } from './volatile-slice.js';
export { GuestRegionMmap } from './guest-region.js';
export { GuestMemoryMmap } from './guest-memory.js';
export type { SharedGuestMemory, AccessFn, MisalignedPolicy } from './guest-memory.js';
export type { Bytes } from './bytes.js';
export { liveMappings } from './stats.js';
export { GuestMemoryAtomic, GuestMemoryGuard } from './guest-memory-atomic.js';
export {
  GuestMemoryAtomicError,
  GUEST_MEMORY_ATOMIC_ERROR_CODES,
  type GuestMemoryAtomicErrorCode,
} from './guest-memory-atomic-error.js';
export type { SharedGuestMemoryAtomic } from './guest-memory-atomic.js';
export { VcpuPool } from './runtime/vcpu-pool.js';
export { MAX_VCPUS, type VcpuPoolOptions } from './runtime/options.js';
export {
  VcpuError,
  VcpuPoolError,
  VCPU_POOL_ERROR_CODES,
  type VcpuErrorCode,
  type VcpuPoolErrorCode,
} from './runtime/vcpu-error.js';
export { WAKE_REASONS, type VcpuContext, type WakeReason } from './runtime/vcpu-context.js';
export type { JobContext, SharedMemoryDescriptor, SharedRuntime } from './runtime/protocol.js';
export { now as monotonicNow } from './clock.js';
export type { MmioBus } from './mmio-bus.js';
export { DeviceError, DEVICE_ERROR_CODES, type DeviceErrorCode } from './device-error.js';
export { ADDON_ERROR_CODES, type AddonErrorCode } from './addon-error.js';
export {
  busHandler,
  createMmioExits,
  MmioExitPort,
  MmioExitServer,
  type MmioHandler,
  type MmioRequest,
  type ServeOptions,
} from './runtime/mmio-exit.js';
export { DeviceThread, type SharedDeviceChannel } from './runtime/device-thread.js';
export { VcpuSignals } from './runtime/vcpu-signals.js';
export { GuestTimebase, type GuestTimebaseState } from './runtime/timebase.js';
export type { VcpuState } from './runtime/control.js';
export { applySnapshot, loadSnapshot, readSnapshotHeader, saveSnapshot } from './snapshot.js';
export type { SaveOptions, SnapshotHeader, SnapshotInfo, SnapshotOptions } from './snapshot.js';
export { SnapshotError, SNAPSHOT_ERROR_CODES, type SnapshotErrorCode } from './snapshot-error.js';
export {
  applyMachineSnapshot,
  loadMachineSnapshot,
  MAX_STATE_NAME,
  readMachineSnapshotHeader,
  saveMachineSnapshot,
  type LoadedMachine,
  type MachineRecordInfo,
  type MachineSnapshotHeader,
  type MachineState,
  type SaveMachineOptions,
} from './machine-snapshot.js';
export {
  MAX_MIGRATION_RECORDS,
  migrateFrom,
  migrateTo,
  type MigratedMachine,
  type MigrationReport,
  type MigrationTotals,
  type MigrationSourceOptions,
  type MigrationTargetOptions,
} from './migration.js';
export { Translation, TranslationCache, type TranslationCacheOptions } from './translation-cache.js';
export * from './loader/index.js';
export * from './devices/index.js';
export * from './virtio/index.js';
export * from './fdt/index.js';
export * from './interrupts/index.js';
