// Non-Linux platforms have no io_uring: the addon loads but exports nothing,
// and uring selects the worker backend.
#include <node_api.h>
static napi_value init(napi_env env, napi_value exports) { return exports; }
NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
