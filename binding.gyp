{
  "targets": [
    {
      "target_name": "guestmem",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/mapping.cc",
        "native/host_io.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++20", "-O2", "-fexceptions", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags!": ["-fno-exceptions"]
    }
  ]
}
