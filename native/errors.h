// Native failures become instances of the JavaScript GuestMemoryError class.
//
// The JS layer hands its error class to the addon once per environment (see addon.cc), so an
// error thrown here keeps `instanceof GuestMemoryError`, its `kind` and its `code`.
#pragma once

#include <napi.h>
#include <string>

namespace guestmem {

struct AddonState {
  Napi::FunctionReference error_class;
  // copyBuffers' arguments [dstOffset, srcOffset, count], written by JavaScript through the
  // Float64Array `copyArgs` over this memory (owned here, so it outlives any view of it).
  double copy_args[3] = {0, 0, 0};
};

// Builds a GuestMemoryError of `kind` carrying the OS error `err` from `syscall`
// (fields errno, syscall, and for IOError a `cause` Error with the errno name as code).
Napi::Error MakeOsError(Napi::Env env, const char* kind, const std::string& message,
                        int err, const char* syscall);

// Throws a GuestMemoryError of `kind` with just a message.
Napi::Error MakeGuestError(Napi::Env env, const char* kind, const std::string& message);

// Throws a RangeError or TypeError with a Node-style `code`, for arguments that fail the checks
// native code repeats to protect memory safety (the JS layer validates first).
Napi::Error MakeArgError(Napi::Env env, bool range, const std::string& message);

}  // namespace guestmem
