// Conversions between Node-API handles and V8 handles.
//
// Node 20 has no Node-API call that creates a SharedArrayBuffer over external memory, so the
// mapping code talks to V8 directly for that one step. A napi_value is, inside Node, a
// v8::Local<v8::Value> stored in a pointer-sized slot (Node's own v8impl helpers convert the same
// way). This ties the addon to the V8 ABI of the Node major it was built for, which node-gyp
// already does by building per Node version.
#pragma once

#include <cstring>
#include <node_api.h>
#include <v8.h>

namespace guestmem {

inline v8::Local<v8::Value> ToV8(napi_value value) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(value), "napi_value must hold a v8::Local");
  std::memcpy(static_cast<void*>(&local), &value, sizeof(value));
  return local;
}

inline napi_value FromV8(v8::Local<v8::Value> local) {
  napi_value value;
  std::memcpy(&value, static_cast<void*>(&local), sizeof(value));
  return value;
}

}  // namespace guestmem
