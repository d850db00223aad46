#include "host_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

#include "errors.h"
#include "v8_bridge.h"

namespace guestmem {

namespace {

// A pointer in a v8::External; V8 14 (Node 26) wants a type tag on both sides.
#if V8_MAJOR_VERSION >= 14
inline v8::Local<v8::External> WrapPointer(v8::Isolate* isolate, void* p) {
  return v8::External::New(isolate, p, v8::kExternalPointerTypeTagDefault);
}
inline void* UnwrapPointer(v8::Local<v8::Value> v) {
  return v.As<v8::External>()->Value(v8::kExternalPointerTypeTagDefault);
}
#else
inline v8::Local<v8::External> WrapPointer(v8::Isolate* isolate, void* p) { return v8::External::New(isolate, p); }
inline void* UnwrapPointer(v8::Local<v8::Value> v) { return v.As<v8::External>()->Value(); }
#endif

struct Bytes {
  uint8_t* data;
  size_t length;
};

// The bytes behind a SharedArrayBuffer, an ArrayBuffer or a view of either (a view's own
// range), false for anything else. A view costs a few calls more than a buffer, but fewer than
// JavaScript's `view.buffer` and `view.byteOffset` before the call.
bool GetBytes(napi_value value, Bytes* out) {
  v8::Local<v8::Value> v = ToV8(value);
  if (v->IsSharedArrayBuffer()) {
    v8::Local<v8::SharedArrayBuffer> sab = v.As<v8::SharedArrayBuffer>();
    *out = {static_cast<uint8_t*>(sab->Data()), sab->ByteLength()};
    return true;
  }
  if (v->IsArrayBufferView()) {
    v8::Local<v8::ArrayBufferView> view = v.As<v8::ArrayBufferView>();
    *out = {static_cast<uint8_t*>(view->Buffer()->Data()) + view->ByteOffset(), view->ByteLength()};
    return true;
  }
  if (v->IsArrayBuffer()) {
    v8::Local<v8::ArrayBuffer> ab = v.As<v8::ArrayBuffer>();
    *out = {static_cast<uint8_t*>(ab->Data()), ab->ByteLength()};
    return true;
  }
  return false;
}

// Range [offset, offset + count) of a buffer of `length` bytes, all as doubles from JS.
bool InRange(double offset, double count, size_t length) {
  return offset >= 0 && count >= 0 && offset <= 9007199254740991.0 &&
         count <= 9007199254740991.0 && offset == static_cast<double>(static_cast<uint64_t>(offset)) &&
         count == static_cast<double>(static_cast<uint64_t>(count)) &&
         static_cast<uint64_t>(offset) + static_cast<uint64_t>(count) <= length;
}

}  // namespace

namespace {

void ThrowCode(v8::Isolate* isolate, bool range, const char* message) {
  v8::Local<v8::String> msg = v8::String::NewFromUtf8(isolate, message).ToLocalChecked();
  v8::Local<v8::Value> err = range ? v8::Exception::RangeError(msg) : v8::Exception::TypeError(msg);
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  err.As<v8::Object>()
      ->Set(ctx, v8::String::NewFromUtf8Literal(isolate, "code"),
            v8::String::NewFromUtf8(isolate, range ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE")
                .ToLocalChecked())
      .Check();
  isolate->ThrowException(err);
}

// A JavaScript function over a plain V8 callback of up to 5 arguments.
Napi::Value MakeV8Function(Napi::Env env, v8::FunctionCallback fn) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::FunctionTemplate> tmpl =
      v8::FunctionTemplate::New(isolate, fn, v8::Local<v8::Value>(), v8::Local<v8::Signature>(), 5,
                                v8::ConstructorBehavior::kThrow);
  v8::Local<v8::Function> f = tmpl->GetFunction(isolate->GetCurrentContext()).ToLocalChecked();
  return Napi::Value(env, FromV8(f));
}

// copyBuffers(dst, src), its offsets and count in the block behind info.Data(); see host_io.h.
// A plain V8 callback rather than a Node-API one, whose per-call bookkeeping costs as much as a
// 4 KiB memcpy. It returns a status instead of throwing (the caller throws), allocates nothing
// and cannot call back into JavaScript.
void CopyBuffersV8(const v8::FunctionCallbackInfo<v8::Value>& info) {
  const double* args = static_cast<const double*>(UnwrapPointer(info.Data()));
  Bytes dst, src;
  if (info.Length() != 2 || !GetBytes(FromV8(info[0]), &dst) || !GetBytes(FromV8(info[1]), &src)) {
    info.GetReturnValue().Set(-1);
    return;
  }
  double d = args[0], s = args[1], n = args[2];
  if (!InRange(d, n, dst.length) || !InRange(s, n, src.length)) {
    info.GetReturnValue().Set(-2);
    return;
  }
  // SAFETY: both ranges were checked against their buffers above; memmove allows overlap.
  std::memmove(dst.data + static_cast<size_t>(d), src.data + static_cast<size_t>(s),
               static_cast<size_t>(n));
  info.GetReturnValue().Set(0);
}

void KeepMemory(void*, size_t, void*) {}  // the block belongs to AddonState

}  // namespace

Napi::Value MakeCopyBuffersFunction(Napi::Env env, double* args) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::FunctionTemplate> tmpl =
      v8::FunctionTemplate::New(isolate, CopyBuffersV8, WrapPointer(isolate, args),
                                v8::Local<v8::Signature>(), 2, v8::ConstructorBehavior::kThrow);
  v8::Local<v8::Function> f = tmpl->GetFunction(isolate->GetCurrentContext()).ToLocalChecked();
  return Napi::Value(env, FromV8(f));
}

Napi::Value MakeCopyArgs(Napi::Env env, double* args) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(args, 3 * sizeof(double), KeepMemory, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, FromV8(v8::Float64Array::New(buffer, 0, 3)));
}

namespace {

// fd transfer(fd, buffer, offset, count, position): one read(2)/write(2) (pread/pwrite at
// `position` when it is >= 0) between `fd` and [offset, offset + count) of the buffer. A plain
// V8 callback, like copy(): a disk device makes one per request, where Node-API's per-call
// bookkeeping costs a fifth of a 4 KiB pread. Returns the bytes moved, or -errno (JavaScript
// builds the IOError with osError()); throws only for arguments.
template <bool kIntoMemory>
void FdTransferV8(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Bytes mem;
  if (info.Length() != 5 || !info[0]->IsNumber() || !GetBytes(FromV8(info[1]), &mem) || !info[2]->IsNumber() ||
      !info[3]->IsNumber() || !info[4]->IsNumber()) {
    ThrowCode(isolate, false, "fd transfer(fd, buffer, offset, count, position)");
    return;
  }
  // An fd is a C int >= 0: a double such as fd + 2^32 must not wrap onto another descriptor.
  double fd_d = info[0].As<v8::Number>()->Value();
  if (!(fd_d >= 0 && fd_d <= 2147483647.0 && fd_d == static_cast<double>(static_cast<int>(fd_d)))) {
    ThrowCode(isolate, true, "fd must be an integer from 0 to 2^31-1");
    return;
  }
  int fd = static_cast<int>(fd_d);
  double off = info[2].As<v8::Number>()->Value();
  double count = info[3].As<v8::Number>()->Value();
  if (!InRange(off, count, mem.length)) {
    ThrowCode(isolate, true, "fd transfer range out of bounds");
    return;
  }
  // position < 0: the descriptor's own position (read/write); else pread/pwrite at that file
  // offset, leaving the descriptor's position alone.
  double pos = info[4].As<v8::Number>()->Value();
  bool positional = pos >= 0;
  if (positional && !(pos <= 9007199254740991.0 && pos == static_cast<double>(static_cast<int64_t>(pos)))) {
    ThrowCode(isolate, true, "position must be a non-negative safe integer");
    return;
  }
  uint8_t* p = mem.data + static_cast<size_t>(off);
  size_t n = static_cast<size_t>(count);
  // One syscall, like Read::read / Write::write: callers loop for the all-or-error variants.
  for (;;) {
    // SAFETY: [p, p + n) lies inside the buffer (checked above), which the caller keeps alive.
    ssize_t done;
    if (positional) {
      off_t at = static_cast<off_t>(pos);
      done = kIntoMemory ? pread(fd, p, n, at) : pwrite(fd, p, n, at);
    } else {
      done = kIntoMemory ? read(fd, p, n) : write(fd, p, n);
    }
    if (done >= 0) {
      info.GetReturnValue().Set(static_cast<double>(done));
      return;
    }
    if (errno == EINTR) continue;
    info.GetReturnValue().Set(-static_cast<double>(errno));
    return;
  }
}


}  // namespace

Napi::Value MakeReadFdFunction(Napi::Env env) { return MakeV8Function(env, FdTransferV8<true>); }
Napi::Value MakeWriteFdFunction(Napi::Env env) { return MakeV8Function(env, FdTransferV8<false>); }

Napi::Value OsError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsString()) {
    throw MakeArgError(env, false, "osError(errno, syscall, message)");
  }
  int err = info[0].As<Napi::Number>().Int32Value();
  std::string call = info[1].As<Napi::String>().Utf8Value();
  std::string message = info[2].As<Napi::String>().Utf8Value();
  return MakeOsError(env, "IOError", message, err, call.c_str()).Value();
}

}  // namespace guestmem
