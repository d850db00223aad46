#include "host_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "errors.h"
#include "v8_bridge.h"

namespace guestmem {

namespace {

struct Bytes {
  uint8_t* data;
  size_t length;
};

// Returns the bytes behind a SharedArrayBuffer, an ArrayBuffer or an ArrayBufferView.
bool GetBytes(napi_value value, Bytes* out) {
  v8::Local<v8::Value> v = ToV8(value);
  if (v->IsSharedArrayBuffer()) {
    v8::Local<v8::SharedArrayBuffer> sab = v.As<v8::SharedArrayBuffer>();
    *out = {static_cast<uint8_t*>(sab->Data()), sab->ByteLength()};
    return true;
  }
  if (v->IsArrayBuffer()) {
    v8::Local<v8::ArrayBuffer> ab = v.As<v8::ArrayBuffer>();
    *out = {static_cast<uint8_t*>(ab->Data()), ab->ByteLength()};
    return true;
  }
  if (v->IsArrayBufferView()) {
    v8::Local<v8::ArrayBufferView> view = v.As<v8::ArrayBufferView>();
    v8::Local<v8::ArrayBuffer> buffer = view->Buffer();  // also the shared kind
    *out = {static_cast<uint8_t*>(buffer->Data()) + view->ByteOffset(), view->ByteLength()};
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

Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes dst, src;
  if (info.Length() != 5 || !GetBytes(info[0], &dst) || !GetBytes(info[2], &src) ||
      !info[1].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber()) {
    throw MakeArgError(env, false, "copy(dst, dstOffset, src, srcOffset, count)");
  }
  double dst_off = info[1].As<Napi::Number>().DoubleValue();
  double src_off = info[3].As<Napi::Number>().DoubleValue();
  double count = info[4].As<Napi::Number>().DoubleValue();
  // Re-checked here because this is where a bad value would become a wild pointer.
  if (!InRange(dst_off, count, dst.length) || !InRange(src_off, count, src.length)) {
    throw MakeArgError(env, true, "copy range out of bounds");
  }
  // SAFETY: both ranges were checked against their buffers above; memmove allows overlap.
  std::memmove(dst.data + static_cast<size_t>(dst_off), src.data + static_cast<size_t>(src_off),
               static_cast<size_t>(count));
  return env.Undefined();
}

namespace {

Napi::Value FdTransfer(const Napi::CallbackInfo& info, bool into_memory) {
  Napi::Env env = info.Env();
  Bytes mem;
  if (info.Length() != 4 || !info[0].IsNumber() || !GetBytes(info[1], &mem) ||
      !info[2].IsNumber() || !info[3].IsNumber()) {
    throw MakeArgError(env, false, "fd transfer(fd, buffer, offset, count)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  double off = info[2].As<Napi::Number>().DoubleValue();
  double count = info[3].As<Napi::Number>().DoubleValue();
  if (!InRange(off, count, mem.length)) {
    throw MakeArgError(env, true, "fd transfer range out of bounds");
  }
  uint8_t* p = mem.data + static_cast<size_t>(off);
  size_t n = static_cast<size_t>(count);
  // One syscall, like Read::read / Write::write: callers loop for the all-or-error variants.
  for (;;) {
    // SAFETY: [p, p + n) lies inside the buffer (checked above), which the caller keeps alive.
    ssize_t done = into_memory ? read(fd, p, n) : write(fd, p, n);
    if (done >= 0) return Napi::Number::New(env, static_cast<double>(done));
    int err = errno;
    if (err == EINTR) continue;
    throw MakeOsError(env, "IOError", into_memory ? "reading from fd failed" : "writing to fd failed",
                      err, into_memory ? "read" : "write");
  }
}

}  // namespace

Napi::Value ReadFd(const Napi::CallbackInfo& info) { return FdTransfer(info, true); }
Napi::Value WriteFd(const Napi::CallbackInfo& info) { return FdTransfer(info, false); }

}  // namespace guestmem
