// mmap/munmap/msync of guest memory regions, each exposed as one SharedArrayBuffer.
#pragma once

#include <napi.h>

namespace guestmem {

// mmap(size, prot, flags, fd, offset: bigint) -> [SharedArrayBuffer, hostAddress: bigint]
Napi::Value Map(const Napi::CallbackInfo& info);
// flush(buffer: SharedArrayBuffer): msync(MS_SYNC) of the whole mapping.
Napi::Value Flush(const Napi::CallbackInfo& info);
// describe(buffer, words?, epoch?) -> [prot, flags, hostAddress, bitmap, pageSize] if `buffer` is
// a live guestmem mapping, else null; bitmap: 0 none bound, 1 the given words/epoch, 2 another
// bitmap; pageSize: the bound bitmap's page size (0 without one).
Napi::Value Describe(const Napi::CallbackInfo& info);
// bindBitmap(buffer, words, epoch, pageSize) -> whether the mapping took this dirty bitmap as its own
// (false if it is not a live mapping or already has one).
Napi::Value BindBitmap(const Napi::CallbackInfo& info);
// token(buffer) -> a small SharedArrayBuffer standing for the mapping in a share() descriptor
// (keeps it mapped while reachable), or null if `buffer` is not a live mapping.
Napi::Value MakeToken(const Napi::CallbackInfo& info);
// openToken(token) -> a SharedArrayBuffer over the token's mapping in this thread, or null if
// `token` is not a live token.
Napi::Value OpenToken(const Napi::CallbackInfo& info);
// liveMappings() -> number of mappings not yet unmapped (across all threads).
Napi::Value LiveMappings(const Napi::CallbackInfo& info);
// externalMemoryAllowed() -> whether this runtime accepts external backing stores.
Napi::Value ExternalMemoryAllowed(const Napi::CallbackInfo& info);

}  // namespace guestmem
