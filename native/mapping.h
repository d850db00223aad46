// mmap/munmap/msync of guest memory regions, each exposed as one SharedArrayBuffer.
#pragma once

#include <napi.h>

namespace guestmem {

// mmap(size, prot, flags, fd, offset: bigint) -> [SharedArrayBuffer, hostAddress: bigint]
Napi::Value Map(const Napi::CallbackInfo& info);
// flush(buffer: SharedArrayBuffer): msync(MS_SYNC) of the whole mapping.
Napi::Value Flush(const Napi::CallbackInfo& info);
// describe(buffer) -> [prot, flags, hostAddress] if `buffer` is a live guestmem mapping, else null.
Napi::Value Describe(const Napi::CallbackInfo& info);
// liveMappings() -> number of mappings not yet unmapped (across all threads).
Napi::Value LiveMappings(const Napi::CallbackInfo& info);
// externalMemoryAllowed() -> whether this runtime accepts external backing stores.
Napi::Value ExternalMemoryAllowed(const Napi::CallbackInfo& info);

}  // namespace guestmem
