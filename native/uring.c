// The native shim: the few things JavaScript cannot do for itself.
//
// It sets up a ring and maps it, enters and registers, watches the ring fd
// from inside libuv, and tells the address of an ArrayBuffer's memory. It
// knows nothing about opcodes, SQE fields or completions: TypeScript writes
// SQEs and reads CQEs directly in the mapped memory. Every call returns a
// negative errno instead of throwing, so the caller handles errors
// explicitly and builds Node-shaped errors itself.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#define CHECK(env, call)                                                    \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      napi_throw_error((env), "ERR_URING_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

// A mapped ring. JavaScript sees its regions as external ArrayBuffers. The
// mappings outlive close() until every ArrayBuffer over them is detached, so
// no JavaScript view can ever touch unmapped memory.
typedef struct {
  int fd;
  void *rings;  // SQ ring, and the CQ ring too when single_mmap
  size_t rings_len;
  void *cq;     // separate CQ ring mapping when !single_mmap
  size_t cq_len;
  void *sqes;
  size_t sqes_len;
  napi_ref views[3];  // weak refs to the ArrayBuffers, detached on close
  int nviews;
} ring_t;

// The readiness watch: an eventfd registered with the ring, polled by libuv,
// calling one JS function. Polling the ring fd itself is not enough: with
// DEFER_TASKRUN the kernel wakes only the submitter task, never epoll
// waiters, when completions are queued. The executor mutes the eventfd
// (IORING_CQ_EVENTFD_DISABLED) while it is awake, so completions posted
// inline during its own submit cost no wakeup.
typedef struct {
  uv_poll_t poll;
  int efd;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  bool closing;
} watch_t;

static long sys_setup(unsigned entries, struct io_uring_params *p) {
  return syscall(__NR_io_uring_setup, entries, p);
}

static long sys_enter(int fd, unsigned submit, unsigned complete, unsigned flags) {
  return syscall(__NR_io_uring_enter, fd, submit, complete, flags, NULL, 0);
}

static long sys_register(int fd, unsigned op, void *arg, unsigned nr) {
  return syscall(__NR_io_uring_register, fd, op, arg, nr);
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static int64_t arg_int(napi_env env, napi_value v) {
  int64_t out = 0;
  napi_get_value_int64(env, v, &out);
  return out;
}

static void noop_finalize(napi_env env, void *data, void *hint) {}

// Maps one region and wraps it as an ArrayBuffer. The finalizer does
// nothing: unmapping is owned by close_ring or by the ring's own finalizer.
static napi_value wrap_region(napi_env env, ring_t *r, void *p, size_t len) {
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, len, noop_finalize, NULL, &ab) != napi_ok)
    return NULL;
  napi_create_reference(env, ab, 0, &r->views[r->nviews++]);
  return ab;
}

static void unmap_ring(ring_t *r) {
  if (r->sqes) munmap(r->sqes, r->sqes_len);
  if (r->cq) munmap(r->cq, r->cq_len);
  if (r->rings) munmap(r->rings, r->rings_len);
  r->sqes = r->cq = r->rings = NULL;
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
}

static void ring_finalize(napi_env env, void *data, void *hint) {
  ring_t *r = data;
  // Collected without close(): no view is reachable any more (the views
  // hold the handle alive through the JS ring object), so unmap now.
  unmap_ring(r);
  for (int i = 0; i < r->nviews; i++) napi_delete_reference(env, r->views[i]);
  free(r);
}

static void *map(int fd, size_t len, off_t off) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);
  return p == MAP_FAILED ? NULL : p;
}

// setup(entries, paramsBuffer) -> { handle, fd, rings, cq, sqes } | -errno
// paramsBuffer holds a struct io_uring_params written by TypeScript; the
// kernel's answer is written back into it.
static napi_value setup(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unsigned entries = (unsigned)arg_int(env, argv[0]);
  void *pbuf;
  size_t plen;
  CHECK(env, napi_get_typedarray_info(env, argv[1], NULL, &plen, &pbuf, NULL, NULL));
  if (plen < sizeof(struct io_uring_params)) return make_int(env, -EINVAL);

  struct io_uring_params *p = pbuf;
  int fd = (int)sys_setup(entries, p);
  if (fd < 0) return make_int(env, -errno);

  ring_t *r = calloc(1, sizeof(*r));
  r->fd = fd;
  size_t cqe_size = (p->flags & IORING_SETUP_CQE32) ? 32 : 16;
  size_t sqe_size = (p->flags & IORING_SETUP_SQE128) ? 128 : 64;
  size_t sq_len = p->sq_off.array + p->sq_entries * sizeof(uint32_t);
  size_t cq_len = p->cq_off.cqes + p->cq_entries * cqe_size;
  bool single = p->features & IORING_FEAT_SINGLE_MMAP;
  if (single) sq_len = cq_len > sq_len ? cq_len : sq_len;

  r->rings_len = sq_len;
  r->rings = map(fd, sq_len, IORING_OFF_SQ_RING);
  if (!single) {
    r->cq_len = cq_len;
    r->cq = map(fd, cq_len, IORING_OFF_CQ_RING);
  }
  r->sqes_len = sqe_size * p->sq_entries;
  r->sqes = map(fd, r->sqes_len, IORING_OFF_SQES);
  if (!r->rings || (!single && !r->cq) || !r->sqes) {
    int err = errno;
    unmap_ring(r);
    free(r);
    return make_int(env, -err);
  }

  napi_value out, handle;
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_object(env, &handle));
  CHECK(env, napi_wrap(env, handle, r, ring_finalize, NULL, NULL));
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "fd", make_int(env, fd));
  napi_value rings = wrap_region(env, r, r->rings, r->rings_len);
  napi_set_named_property(env, out, "rings", rings);
  napi_set_named_property(env, out, "cq", single ? rings : wrap_region(env, r, r->cq, r->cq_len));
  napi_set_named_property(env, out, "sqes", wrap_region(env, r, r->sqes, r->sqes_len));
  return out;
}

static ring_t *unwrap_ring(napi_env env, napi_value v) {
  void *r = NULL;
  napi_unwrap(env, v, &r);
  return r;
}

// close(handle): detach every view, then unmap and close the fd. The caller
// has already waited for the kernel to finish with user memory. Idempotent.
static napi_value close_ring(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  ring_t *r = unwrap_ring(env, argv[0]);
  if (!r || r->fd < 0) return make_int(env, 0);
  for (int i = 0; i < r->nviews; i++) {
    napi_value ab;
    if (napi_get_reference_value(env, r->views[i], &ab) == napi_ok && ab) {
      bool detached = false;
      napi_is_detached_arraybuffer(env, ab, &detached);
      if (!detached) napi_detach_arraybuffer(env, ab);
    }
  }
  unmap_ring(r);
  return make_int(env, 0);
}

// enter(fd, toSubmit, minComplete, flags) -> count | -errno
static napi_value enter(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t fd, submit, complete, flags;
  napi_get_value_uint32(env, argv[0], &fd);
  napi_get_value_uint32(env, argv[1], &submit);
  napi_get_value_uint32(env, argv[2], &complete);
  napi_get_value_uint32(env, argv[3], &flags);
  long ret = sys_enter((int)fd, submit, complete, flags);
  return make_int(env, ret < 0 ? -errno : ret);
}

// register(fd, opcode, arg: TypedArray | null, nr) -> result | -errno
static napi_value register_(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t fd, op, nr;
  napi_get_value_uint32(env, argv[0], &fd);
  napi_get_value_uint32(env, argv[1], &op);
  napi_get_value_uint32(env, argv[3], &nr);
  void *arg = NULL;
  bool is_typed = false;
  napi_is_typedarray(env, argv[2], &is_typed);
  if (is_typed) napi_get_typedarray_info(env, argv[2], NULL, NULL, &arg, NULL, NULL);
  long ret = sys_register((int)fd, op, arg, nr);
  return make_int(env, ret < 0 ? -errno : ret);
}

// addressOf(view) -> the address of view[0] as a number. Works for views
// over SharedArrayBuffers too. x86-64 and arm64 user addresses fit in 2^53.
static napi_value address_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  bool is_typed = false, is_ab = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (is_typed) {
    CHECK(env, napi_get_typedarray_info(env, argv[0], NULL, NULL, &data, NULL, NULL));
  } else {
    napi_is_arraybuffer(env, argv[0], &is_ab);
    if (!is_ab) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "addressOf needs a TypedArray or ArrayBuffer");
      return NULL;
    }
    CHECK(env, napi_get_arraybuffer_info(env, argv[0], &data, NULL));
  }
  napi_value out;
  napi_create_double(env, (double)(uintptr_t)data, &out);
  return out;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watch_t *w = handle->data;
  if (w->closing) return;
  uint64_t count;
  while (read(w->efd, &count, sizeof(count)) > 0) {
  }
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv);
  // make_callback runs the microtask queue afterwards, so promises settled
  // by the drain resume in this same turn of the loop.
  if (napi_make_callback(env, w->context, recv, cb, 0, NULL, &result) != napi_ok) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void on_watch_closed(uv_handle_t *handle) {
  watch_t *w = handle->data;
  close(w->efd);
  free(w);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  watch_t *w = data;
  if (w->closing) return;  // unwatch owns the memory now
  w->closing = true;
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->context);
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

// watch(fd, callback) -> handle | -errno. Starts unref'd: an idle ring
// never keeps the process alive; the executor refs it while ops are in flight.
static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t fd;
  napi_get_value_uint32(env, argv[0], &fd);
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return make_int(env, -errno);
  if (sys_register((int)fd, IORING_REGISTER_EVENTFD, &efd, 1) < 0) {
    int err = errno;
    close(efd);
    return make_int(env, -err);
  }
  watch_t *w = calloc(1, sizeof(*w));
  w->env = env;
  w->efd = efd;
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, efd);
  if (rc != 0) {
    close(efd);
    free(w);
    return make_int(env, rc);
  }
  napi_value name;
  napi_create_string_utf8(env, "uring", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_async_init(env, NULL, name, &w->context));
  CHECK(env, napi_create_reference(env, argv[1], 1, &w->callback));
  uv_unref((uv_handle_t *)&w->poll);
  uv_poll_start(&w->poll, UV_READABLE, on_poll);
  napi_value handle;
  CHECK(env, napi_create_object(env, &handle));
  CHECK(env, napi_wrap(env, handle, w, watch_finalize, NULL, NULL));
  return handle;
}

static watch_t *unwrap_watch(napi_env env, napi_value v) {
  void *w = NULL;
  napi_unwrap(env, v, &w);
  return w;
}

// ref(handle, on): keep the loop alive (on) or not (off).
static napi_value ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watch_t *w = unwrap_watch(env, argv[0]);
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  if (w && !w->closing) {
    if (on) uv_ref((uv_handle_t *)&w->poll);
    else uv_unref((uv_handle_t *)&w->poll);
  }
  return NULL;
}

// unwatch(handle): stop polling before the fd is closed. Idempotent.
static napi_value unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watch_t *w = NULL;
  if (napi_remove_wrap(env, argv[0], (void **)&w) != napi_ok || !w || w->closing) return NULL;
  w->closing = true;
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->context);
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);
  return NULL;
}

// memlock() -> the soft RLIMIT_MEMLOCK in bytes, or -1 for unlimited. The
// pool reads it to explain a registration failure instead of guessing.
static napi_value memlock(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return make_int(env, -errno);
  return make_int(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur);
}

// Lease views. The pool hands users memory inside SharedArrayBuffers, and a
// SharedArrayBuffer can never be detached, so a plain view would keep
// aliasing the chunk after it is released and reused. view() wraps the same
// bytes in an external (non-shared) ArrayBuffer that detach() can neuter,
// which zeroes the length of every typed array and Buffer over it. The
// external buffer holds a strong reference to `source` (a typed array over
// the region), so the memory stays alive as long as any view of it does.
static void release_source(napi_env env, void *data, void *hint) {
  napi_delete_reference(env, (napi_ref)hint);
}

// view(source: TypedArray, offset, length) -> ArrayBuffer | -errno
static napi_value view(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (argc < 3 || !is_typed) return make_int(env, -EINVAL);
  napi_typedarray_type type;
  size_t count = 0;
  void *data = NULL;
  CHECK(env, napi_get_typedarray_info(env, argv[0], &type, &count, &data, NULL, NULL));
  if (type != napi_uint8_array) return make_int(env, -EINVAL);
  int64_t off = arg_int(env, argv[1]), len = arg_int(env, argv[2]);
  if (off < 0 || len <= 0 || (uint64_t)off > count || (uint64_t)len > count - (uint64_t)off)
    return make_int(env, -ERANGE);
  napi_ref keep;
  CHECK(env, napi_create_reference(env, argv[0], 1, &keep));
  napi_value ab;
  if (napi_create_external_arraybuffer(env, (char *)data + off, (size_t)len, release_source, keep, &ab) != napi_ok) {
    napi_delete_reference(env, keep);
    return make_int(env, -ENOTSUP);  // e.g. a runtime with the V8 sandbox
  }
  return ab;
}

// detach(ab) -> 0 | -errno. Idempotent on an already detached buffer.
static napi_value detach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_ab = false, detached = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (argc < 1 || !is_ab) return make_int(env, -EINVAL);
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (detached) return make_int(env, 0);
  return make_int(env, napi_detach_arraybuffer(env, argv[0]) == napi_ok ? 0 : -EPERM);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setup", NULL, setup, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_ring, NULL, NULL, NULL, napi_default, NULL},
      {"enter", NULL, enter, NULL, NULL, NULL, napi_default, NULL},
      {"register", NULL, register_, NULL, NULL, NULL, napi_default, NULL},
      {"addressOf", NULL, address_of, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, ref, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"memlock", NULL, memlock, NULL, NULL, NULL, napi_default, NULL},
      {"view", NULL, view, NULL, NULL, NULL, napi_default, NULL},
      {"detach", NULL, detach, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
