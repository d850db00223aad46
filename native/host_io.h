// Bulk byte movement that JavaScript cannot do at memcpy speed: copies between buffers of
// different alignment or of large size, and read(2)/write(2) straight into guest memory.
#pragma once

#include <napi.h>

namespace guestmem {

// copyBuffers(dst, src) -> 0, or -1 (not two byte containers) or -2 (a range out of bounds):
// memmove between two byte containers (SharedArrayBuffer, ArrayBuffer, or a view of either,
// offsets then counting from the view's start), bounds-checked, its offsets and count read from
// `args` ([dstOffset, srcOffset, count]), filled through the Float64Array MakeCopyArgs returns.
// Two arguments and no number conversions: with five, converting and checking them cost as
// much as the memcpy of 4 KiB.
Napi::Value MakeCopyBuffersFunction(Napi::Env env, double* args);
// A Float64Array of 3 over `args` (which must outlive the environment's JavaScript).
Napi::Value MakeCopyArgs(Napi::Env env, double* args);
// readFd(fd, buffer, offset, count, position) -> bytes read by one read(2) or pread(2) (0 at
// end of file), or -errno.
Napi::Value MakeReadFdFunction(Napi::Env env);
// writeFd(fd, buffer, offset, count, position) -> bytes written by one write(2) or pwrite(2), or -errno.
Napi::Value MakeWriteFdFunction(Napi::Env env);
// osError(errno, syscall, message) -> the GuestMemoryError IOError for a failed transfer.
Napi::Value OsError(const Napi::CallbackInfo& info);

}  // namespace guestmem
