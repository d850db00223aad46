#include "errors.h"

#include <cerrno>
#include <cstring>

#include <uv.h>

namespace guestmem {

namespace {

// libuv's name for an errno (EBADF, ENOMEM, …: every one libuv knows), as Node's own errors use.
const char* ErrnoName(int err) {
  const char* name = uv_err_name(-err);
  return name != nullptr ? name : "EUNKNOWN";
}

Napi::Error Construct(Napi::Env env, const char* kind, const std::string& message,
                      Napi::Object fields) {
  AddonState* state = env.GetInstanceData<AddonState>();
  if (state == nullptr || state->error_class.IsEmpty()) {
    // Only reachable if the JS layer did not register its class: still a typed, catchable error.
    Napi::Error e = Napi::Error::New(env, message);
    e.Set("kind", Napi::String::New(env, kind));
    return e;
  }
  Napi::Value obj = state->error_class.New(
      {Napi::String::New(env, kind), Napi::String::New(env, message), fields});
  return Napi::Error(env, obj);
}

}  // namespace

Napi::Error MakeOsError(Napi::Env env, const char* kind, const std::string& message, int err,
                        const char* syscall) {
  Napi::Object fields = Napi::Object::New(env);
  std::string full = message + ": " + ErrnoName(err) + " (" + std::strerror(err) + "), " + syscall;
  fields.Set("errno", Napi::Number::New(env, err));
  fields.Set("syscall", Napi::String::New(env, syscall));
  Napi::Error cause = Napi::Error::New(env, std::string(std::strerror(err)) + ", " + syscall);
  cause.Set("code", Napi::String::New(env, ErrnoName(err)));
  cause.Set("errno", Napi::Number::New(env, err));
  cause.Set("syscall", Napi::String::New(env, syscall));
  fields.Set("cause", cause.Value());
  return Construct(env, kind, full, fields);
}

Napi::Error MakeGuestError(Napi::Env env, const char* kind, const std::string& message) {
  return Construct(env, kind, message, Napi::Object::New(env));
}

Napi::Error MakeArgError(Napi::Env env, bool range, const std::string& message) {
  Napi::Error e = range ? Napi::Error(env, Napi::RangeError::New(env, message).Value())
                        : Napi::Error(env, Napi::TypeError::New(env, message).Value());
  e.Set("code", Napi::String::New(env, range ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE"));
  return e;
}

}  // namespace guestmem
