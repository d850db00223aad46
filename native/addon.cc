// Registers the addon's exports; one AddonState per Node environment (main thread or worker).
#include <napi.h>
// node_version.h sets its own NAPI_VERSION; keep the one binding.gyp asks for.
#pragma push_macro("NAPI_VERSION")
#undef NAPI_VERSION
#include <node_version.h>
#pragma pop_macro("NAPI_VERSION")
#include <sys/mman.h>

#include "errors.h"
#include "host_io.h"
#include "mapping.h"

namespace guestmem {

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsFunction()) {
    throw MakeArgError(info.Env(), false, "setErrorClass(GuestMemoryError)");
  }
  AddonState* state = info.Env().GetInstanceData<AddonState>();
  state->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The addon is registered through Node-API, which loads into any Node line, but the mapping
  // code uses V8's own ABI (v8_bridge.h), which is fixed per Node major. Loading a build made
  // for another major must fail here, cleanly, not crash later.
  const napi_node_version* running = nullptr;
  if (napi_get_node_version(env, &running) != napi_ok || running->major != NODE_MAJOR_VERSION) {
    Napi::Error e = Napi::Error::New(
        env, "guestmem: this native addon was built for Node " + std::to_string(NODE_MAJOR_VERSION) +
                 " and cannot run on Node " + std::to_string(running ? running->major : 0) +
                 "; run `npm rebuild guestmem`");
    e.Set("code", Napi::String::New(env, "ERR_GUESTMEM_ADDON_NODE_MAJOR"));
    throw e;
  }
  AddonState* state = new AddonState();
  env.SetInstanceData(state);
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("mmap", Napi::Function::New(env, Map));
  exports.Set("flush", Napi::Function::New(env, Flush));
  exports.Set("describe", Napi::Function::New(env, Describe));
  exports.Set("bindBitmap", Napi::Function::New(env, BindBitmap));
  exports.Set("token", Napi::Function::New(env, MakeToken));
  exports.Set("openToken", Napi::Function::New(env, OpenToken));
  exports.Set("liveMappings", Napi::Function::New(env, LiveMappings));
  exports.Set("externalMemoryAllowed", Napi::Function::New(env, ExternalMemoryAllowed));
  exports.Set("copyBuffers", MakeCopyBuffersFunction(env, state->copy_args));
  exports.Set("copyArgs", MakeCopyArgs(env, state->copy_args));
  exports.Set("readFd", MakeReadFdFunction(env));
  exports.Set("writeFd", MakeWriteFdFunction(env));
  exports.Set("osError", Napi::Function::New(env, OsError));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("PROT_NONE", PROT_NONE);
  constants.Set("PROT_READ", PROT_READ);
  constants.Set("PROT_WRITE", PROT_WRITE);
  constants.Set("PROT_EXEC", PROT_EXEC);
  constants.Set("MAP_SHARED", MAP_SHARED);
  constants.Set("MAP_PRIVATE", MAP_PRIVATE);
  constants.Set("MAP_ANONYMOUS", MAP_ANONYMOUS);
  constants.Set("MAP_NORESERVE", MAP_NORESERVE);
  constants.Set("MAP_FIXED", MAP_FIXED);
#ifdef MAP_FIXED_NOREPLACE
  constants.Set("MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE);
#else
  constants.Set("MAP_FIXED_NOREPLACE", 0x100000);
#endif
#ifdef MAP_HUGE_SHIFT
  constants.Set("MAP_HUGE_MASK", 0x3f << MAP_HUGE_SHIFT);
#else
  constants.Set("MAP_HUGE_MASK", 0x3f << 26);
#endif
  constants.Set("MAP_POPULATE", MAP_POPULATE);
  constants.Set("MAP_HUGETLB", MAP_HUGETLB);
  constants.Freeze();
  exports.Set("constants", constants);
  return exports;
}

}  // namespace guestmem

static Napi::Object InitGuestmem(Napi::Env env, Napi::Object exports) {
  return guestmem::Init(env, exports);
}

NODE_API_MODULE(guestmem, InitGuestmem)
