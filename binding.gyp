{
  "targets": [
    {
      "target_name": "uring",
      "sources": ["native/uring.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", { "sources!": ["native/uring.c"], "sources": ["native/stub.c"] }]]
    }
  ]
}
