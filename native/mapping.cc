// A mapping lives exactly as long as its V8 backing store.
//
// The SharedArrayBuffer handed to JavaScript owns a std::shared_ptr<v8::BackingStore> whose
// deleter calls munmap. Posting the buffer to a worker shares that backing store (the same
// memory, no copy), so the deleter runs once, on whichever thread drops the last reference,
// after every isolate has collected every view. munmap is thread-safe, and so is the counter.
#include "mapping.h"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <cerrno>
#include <cstdint>
#include <memory>

#include "errors.h"
#include "v8_bridge.h"

namespace guestmem {

namespace {

std::atomic<int64_t> g_live_mappings{0};

// What each live mapping was made with, by address: the truth a descriptor from another thread
// is checked against (a descriptor is data anyone can forge; protection must never come from it).
// A mapping that tracks dirty pages also owns its bitmap's buffers (words and epoch), so a
// descriptor can name only that bitmap: another one of the same geometry would collect the
// mapping's writes somewhere no snapshot looks.
struct MappingRecord {
  size_t size;
  int prot;
  int flags;
  std::shared_ptr<v8::BackingStore> bitmap_words;
  std::shared_ptr<v8::BackingStore> bitmap_epoch;
  double bitmap_page_size;
};
std::mutex g_registry_mutex;
std::unordered_map<void*, MappingRecord>& Registry() {
  static auto* registry = new std::unordered_map<void*, MappingRecord>();  // never destroyed: deleters may run at exit
  return *registry;
}

void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  MappingRecord gone{};
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = Registry().find(data);
    if (it != Registry().end()) {
      gone = std::move(it->second);  // the bitmap's buffers are released outside the lock
      Registry().erase(it);
    }
  }
  // SAFETY: `data`/`length` are exactly what mmap returned for this backing store, and V8 calls
  // the deleter once, when no JavaScript object in any isolate can reach the memory any more.
  munmap(data, length);
  g_live_mappings.fetch_sub(1, std::memory_order_relaxed);
}

#ifdef V8_ENABLE_SANDBOX
constexpr bool kExternalAllowed = false;
#else
constexpr bool kExternalAllowed = true;
#endif

bool ToU64(const Napi::Value& v, uint64_t* out) {
  if (!v.IsBigInt()) return false;
  bool lossless = false;
  *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
  return lossless;
}

}  // namespace

Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The JS layer validates every argument; these re-checks only keep bad values away from mmap.
  if (info.Length() != 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    throw MakeArgError(env, false, "mmap(size, prot, flags, fd, offset) takes numbers");
  }
  double size_d = info[0].As<Napi::Number>().DoubleValue();
  if (!(size_d >= 0 && size_d <= 9007199254740991.0) || size_d != static_cast<double>(
                                                           static_cast<uint64_t>(size_d))) {
    throw MakeArgError(env, true, "mmap size must be a safe non-negative integer");
  }
  size_t size = static_cast<size_t>(size_d);
  int prot = info[1].As<Napi::Number>().Int32Value();
  int flags = info[2].As<Napi::Number>().Int32Value();
  int fd = info[3].As<Napi::Number>().Int32Value();
  uint64_t offset = 0;
  if (!ToU64(info[4], &offset)) {
    throw MakeArgError(env, true, "mmap offset must be a bigint in [0, 2^64-1]");
  }
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
  // Both place the mapping at a caller's address (NOREPLACE with no hint maps page 0).
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    throw MakeGuestError(env, "MapFixed", "The forbidden MAP_FIXED flag was specified");
  }
  if (!kExternalAllowed) {
    throw MakeOsError(env, "Mmap",
                      "this runtime does not allow SharedArrayBuffers over external memory",
                      ENOTSUP, "mmap");
  }
  if (offset > static_cast<uint64_t>(INT64_MAX)) {
    throw MakeOsError(env, "Mmap", "the file offset does not fit in off_t", EOVERFLOW, "mmap");
  }

  // SAFETY: MAP_FIXED is refused above, so the kernel picks an address that aliases nothing we
  // own; invalid sizes, fds and offsets make mmap fail with an errno, not undefined behaviour.
  void* addr = mmap(nullptr, size, prot, flags, fd, static_cast<off_t>(offset));
  if (addr == MAP_FAILED) {
    int err = errno;
    throw MakeOsError(env, "Mmap", "mmap failed", err, "mmap");
  }
  if (addr == nullptr) {
    // Never hand out page 0 (V8 refuses a backing store there and aborts the process).
    munmap(addr, size);
    throw MakeOsError(env, "Mmap", "mmap returned address 0", EINVAL, "mmap");
  }
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
  // Name anonymous mappings "[anon:guestmem]" in /proc/<pid>/maps (Linux 5.17+ with
  // CONFIG_ANON_VMA_NAME; ignored elsewhere), so tools and tests can tell them apart.
  if ((flags & MAP_ANONYMOUS) && size > 0) {
    prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, reinterpret_cast<unsigned long>(addr), size,
          reinterpret_cast<unsigned long>("guestmem"));
  }
  g_live_mappings.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    Registry()[addr] = MappingRecord{size, prot, flags, nullptr, nullptr, 0};
  }

  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::SharedArrayBuffer::NewBackingStore(addr, size, Unmap, nullptr);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));

  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Value(env, FromV8(sab)));
  result.Set(1u, Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(addr))));
  return result;
}

Napi::Value Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  v8::Local<v8::Value> v = info.Length() == 1 ? ToV8(info[0]) : v8::Local<v8::Value>();
  if (v.IsEmpty() || !v->IsSharedArrayBuffer()) {
    throw MakeArgError(env, false, "flush(buffer) takes the mapping's SharedArrayBuffer");
  }
  v8::Local<v8::SharedArrayBuffer> sab = v.As<v8::SharedArrayBuffer>();
  size_t len = sab->ByteLength();
  if (len == 0) return env.Undefined();
  // SAFETY: the buffer keeps the mapping alive for the duration of this call, and msync only
  // reads page state; an address that is not ours would fail with ENOMEM, not corrupt memory.
  if (msync(sab->Data(), len, MS_SYNC) != 0) {
    int err = errno;
    throw MakeOsError(env, "IOError", "msync failed", err, "msync");
  }
  return env.Undefined();
}

namespace {

// The SharedArrayBuffer in `v`, or an empty handle.
v8::Local<v8::SharedArrayBuffer> AsShared(const Napi::Value& v) {
  if (v.IsEmpty()) return v8::Local<v8::SharedArrayBuffer>();
  v8::Local<v8::Value> local = ToV8(v);
  if (local.IsEmpty() || !local->IsSharedArrayBuffer()) return v8::Local<v8::SharedArrayBuffer>();
  return local.As<v8::SharedArrayBuffer>();
}

}  // namespace

Napi::Value BindBitmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool four = info.Length() == 4 && info[3].IsNumber();
  v8::Local<v8::SharedArrayBuffer> map = four ? AsShared(info[0]) : v8::Local<v8::SharedArrayBuffer>();
  v8::Local<v8::SharedArrayBuffer> words = four ? AsShared(info[1]) : v8::Local<v8::SharedArrayBuffer>();
  v8::Local<v8::SharedArrayBuffer> epoch = four ? AsShared(info[2]) : v8::Local<v8::SharedArrayBuffer>();
  if (map.IsEmpty() || words.IsEmpty() || epoch.IsEmpty()) {
    throw MakeArgError(env, false, "bindBitmap(mapping, words, epoch, pageSize) takes three SharedArrayBuffers and a number");
  }
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = Registry().find(map->Data());
  if (it == Registry().end() || it->second.size != map->ByteLength() || it->second.bitmap_words) {
    return Napi::Boolean::New(env, false);  // not a live mapping, or it has its bitmap already
  }
  it->second.bitmap_words = words->GetBackingStore();
  it->second.bitmap_epoch = epoch->GetBackingStore();
  it->second.bitmap_page_size = info[3].As<Napi::Number>().DoubleValue();
  return Napi::Boolean::New(env, true);
}

Napi::Value Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  v8::Local<v8::SharedArrayBuffer> sab = info.Length() >= 1 ? AsShared(info[0]) : v8::Local<v8::SharedArrayBuffer>();
  if (sab.IsEmpty()) return env.Null();
  v8::Local<v8::SharedArrayBuffer> words = info.Length() >= 3 ? AsShared(info[1]) : v8::Local<v8::SharedArrayBuffer>();
  v8::Local<v8::SharedArrayBuffer> epoch = info.Length() >= 3 ? AsShared(info[2]) : v8::Local<v8::SharedArrayBuffer>();
  void* data = sab->Data();
  size_t len = sab->ByteLength();
  int prot = 0;
  int flags = 0;
  int bitmap = 0;  // 0: the mapping has no bitmap; 1: it is the one given; 2: it is another one
  double page_size = 0;
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = Registry().find(data);
    // The buffer is alive (we hold it), so its mapping cannot have been unmapped and reused.
    if (it == Registry().end() || it->second.size != len) return env.Null();
    prot = it->second.prot;
    flags = it->second.flags;
    if (it->second.bitmap_words) {
      // Backing stores are compared by their memory: the registry keeps both alive, so their
      // addresses cannot be reused by another buffer while the mapping lives.
      bool same = !words.IsEmpty() && !epoch.IsEmpty() &&
                  words->Data() == it->second.bitmap_words->Data() &&
                  words->ByteLength() == it->second.bitmap_words->ByteLength() &&
                  epoch->Data() == it->second.bitmap_epoch->Data() &&
                  epoch->ByteLength() == it->second.bitmap_epoch->ByteLength();
      bitmap = same ? 1 : 2;
      page_size = it->second.bitmap_page_size;
    }
  }
  Napi::Array result = Napi::Array::New(env, 5);
  result.Set(0u, Napi::Number::New(env, prot));
  result.Set(1u, Napi::Number::New(env, flags));
  result.Set(2u, Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data))));
  result.Set(3u, Napi::Number::New(env, bitmap));
  result.Set(4u, Napi::Number::New(env, page_size));
  return result;
}

namespace {

// Share tokens: a share() descriptor of a mapping whose buffer may not be handed out (read-only
// or PROT_NONE) carries a small SharedArrayBuffer instead, the token. Each token's memory is a
// key here, and its entry holds a reference to the mapping's backing store, so the mapping stays
// mapped while any thread can still reach the token. The receiving thread turns the token back
// into a SharedArrayBuffer over the same backing store (OpenToken); no JavaScript object ever
// carries the raw buffer between threads. The mapping still unmaps once, after its last
// reference (buffers and tokens alike) is gone.
constexpr size_t kTokenBytes = 8;
std::mutex g_token_mutex;
std::unordered_map<void*, std::shared_ptr<v8::BackingStore>>& Tokens() {
  static auto* tokens = new std::unordered_map<void*, std::shared_ptr<v8::BackingStore>>();  // never destroyed
  return *tokens;
}

void FreeToken(void* data, size_t /*length*/, void* /*deleter_data*/) {
  std::shared_ptr<v8::BackingStore> mapping;
  {
    std::lock_guard<std::mutex> lock(g_token_mutex);
    auto it = Tokens().find(data);
    if (it != Tokens().end()) {
      mapping = std::move(it->second);
      Tokens().erase(it);
    }
  }
  delete[] static_cast<uint8_t*>(data);
  // `mapping` drops its reference here, outside both locks: this may be the last one (Unmap).
}

}  // namespace

Napi::Value MakeToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  v8::Local<v8::SharedArrayBuffer> sab = info.Length() == 1 ? AsShared(info[0]) : v8::Local<v8::SharedArrayBuffer>();
  if (sab.IsEmpty()) throw MakeArgError(env, false, "token(buffer) takes a mapping's SharedArrayBuffer");
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = Registry().find(sab->Data());
    if (it == Registry().end() || it->second.size != sab->ByteLength()) return env.Null();
  }
  auto* data = new uint8_t[kTokenBytes]();
  {
    std::lock_guard<std::mutex> lock(g_token_mutex);
    Tokens()[data] = sab->GetBackingStore();
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::SharedArrayBuffer::NewBackingStore(data, kTokenBytes, FreeToken, nullptr);
  return Napi::Value(env, FromV8(v8::SharedArrayBuffer::New(isolate, std::move(store))));
}

Napi::Value OpenToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  v8::Local<v8::SharedArrayBuffer> token = info.Length() == 1 ? AsShared(info[0]) : v8::Local<v8::SharedArrayBuffer>();
  if (token.IsEmpty() || token->ByteLength() != kTokenBytes) return env.Null();
  std::shared_ptr<v8::BackingStore> mapping;
  {
    std::lock_guard<std::mutex> lock(g_token_mutex);
    auto it = Tokens().find(token->Data());
    if (it == Tokens().end()) return env.Null();
    mapping = it->second;
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  return Napi::Value(env, FromV8(v8::SharedArrayBuffer::New(isolate, std::move(mapping))));
}

Napi::Value LiveMappings(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           static_cast<double>(g_live_mappings.load(std::memory_order_relaxed)));
}

Napi::Value ExternalMemoryAllowed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), kExternalAllowed);
}

}  // namespace guestmem
