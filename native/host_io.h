// Bulk byte movement that JavaScript cannot do at memcpy speed: copies between buffers of
// different alignment or of large size, and read(2)/write(2) straight into guest memory.
#pragma once

#include <napi.h>

namespace guestmem {

// copy(dst, dstOffset, src, srcOffset, count): memmove between two byte containers
// (SharedArrayBuffer or ArrayBuffer; views are passed as buffer + offset), bounds-checked.
Napi::Value MakeCopyFunction(Napi::Env env);
// readFd(fd, buffer, offset, count, position) -> bytes read by one read(2) or pread(2) (0 at
// end of file), or -errno.
Napi::Value MakeReadFdFunction(Napi::Env env);
// writeFd(fd, buffer, offset, count, position) -> bytes written by one write(2) or pwrite(2), or -errno.
Napi::Value MakeWriteFdFunction(Napi::Env env);
// osError(errno, syscall, message) -> the GuestMemoryError IOError for a failed transfer.
Napi::Value OsError(const Napi::CallbackInfo& info);

}  // namespace guestmem
