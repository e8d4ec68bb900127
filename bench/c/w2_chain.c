/* W2 C reference for `uring bench`: read every file named in a list (one path a
 * line), 4 KiB each, with linked chains
 *   openat (direct descriptor into an explicit slot of a sparse registered file
 *   table) -> read (IOSQE_FIXED_FILE, IOSQE_IO_HARDLINK so the close always runs)
 *   -> close (the direct descriptor)
 * and `depth` chains in flight. Raw syscalls, no liburing.
 * Usage: w2_chain LISTFILE [DEPTH]    Prints one JSON line:
 *   {"files":N,"ns":N,"bytes":N,"sum":N,"bad":N[,"error":"..."]}
 * sum/bad use the same stamps as src/cli/bench/common.ts (W2_SEED). */
#include "ring.h"
#include <fcntl.h>

#define BLOCK 4096
#define W2_SEED 0x0f11e5edu

enum { K_OPEN, K_READ, K_CLOSE };

struct lane {
  unsigned file; /* index of the file in the list */
  int pending;   /* CQEs still due for this chain */
  int res_open, res_read, res_close;
  unsigned char *buf;
};

static uint32_t stamp(uint32_t k, uint32_t seed) { return (k * 0x9e3779b1u) ^ seed; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static char **read_list(const char *file, unsigned *count) {
  FILE *f = fopen(file, "r");
  if (!f) die("open list", errno);
  size_t cap = 1024, n = 0;
  char **v = malloc(cap * sizeof *v);
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    if (!len) continue;
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    v[n++] = strdup(line);
  }
  free(line);
  fclose(f);
  *count = (unsigned)n;
  return v;
}

static void queue_chain(struct ring *r, struct lane *l, unsigned slot, unsigned file, char **paths) {
  uint64_t ud = (uint64_t)slot << 2;
  l->file = file;
  l->pending = 3;
  l->res_open = l->res_read = l->res_close = 0;

  struct io_uring_sqe *s = ring_sqe(r);
  s->opcode = IORING_OP_OPENAT;
  s->fd = AT_FDCWD;
  s->addr = (uint64_t)(uintptr_t)paths[file];
  s->open_flags = O_RDONLY;
  s->file_index = slot + 1; /* direct descriptor in slot `slot` */
  s->flags = IOSQE_IO_LINK;
  s->user_data = ud | K_OPEN;

  s = ring_sqe(r);
  s->opcode = IORING_OP_READ;
  s->fd = (int)slot;
  s->addr = (uint64_t)(uintptr_t)l->buf;
  s->len = BLOCK;
  s->off = 0;
  s->flags = IOSQE_FIXED_FILE | IOSQE_IO_LINK | IOSQE_IO_HARDLINK;
  s->user_data = ud | K_READ;

  s = ring_sqe(r);
  s->opcode = IORING_OP_CLOSE;
  s->fd = 0;
  s->file_index = slot + 1;
  s->user_data = ud | K_CLOSE;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s LISTFILE [DEPTH]\n", argv[0]);
    return 2;
  }
  unsigned n, depth = argc > 2 ? (unsigned)atoi(argv[2]) : 64;
  if (depth < 1 || depth > 1024) depth = 64;
  char **paths = read_list(argv[1], &n);

  unsigned entries = 1;
  while (entries < depth * 3) entries <<= 1;
  struct ring r;
  ring_init(&r, entries);

  /* Sparse table: every slot empty (-1); openat fills slot+1 explicitly. */
  int *fds = malloc(depth * sizeof *fds);
  for (unsigned i = 0; i < depth; i++) fds[i] = -1;
  if (sys_register(r.fd, IORING_REGISTER_FILES, fds, depth) < 0) die("register sparse files", errno);

  struct lane *lanes = calloc(depth, sizeof *lanes);
  for (unsigned i = 0; i < depth; i++)
    if (posix_memalign((void **)&lanes[i].buf, 4096, BLOCK)) die("posix_memalign", ENOMEM);

  unsigned long long files = 0, bytes = 0;
  uint32_t sum = 0;
  unsigned bad = 0, next = 0, active = 0;
  int first_err = 0;
  const char *err_what = "";

  long long t0 = mono_ns();
  for (unsigned i = 0; i < depth && next < n; i++, active++) queue_chain(&r, &lanes[i], i, next++, paths);
  while (active) {
    ring_submit_wait(&r, 1);
    unsigned head = *r.cq_head;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)r.cq_tail, memory_order_acquire);
    for (; head != tail; head++) {
      struct io_uring_cqe *c = &r.cqes[head & *r.cq_mask];
      unsigned slot = (unsigned)(c->user_data >> 2);
      struct lane *l = &lanes[slot];
      switch (c->user_data & 3) {
        case K_OPEN: l->res_open = c->res; break;
        case K_READ: l->res_read = c->res; break;
        default: l->res_close = c->res; break;
      }
      if (--l->pending) continue;
      if (l->res_open < 0 || l->res_read < 0 || l->res_close < 0) {
        bad++;
        if (!first_err) {
          first_err = l->res_open < 0 ? -l->res_open : l->res_read < 0 ? -l->res_read : -l->res_close;
          err_what = l->res_open < 0 ? "openat" : l->res_read < 0 ? "read" : "close";
        }
      } else {
        files++;
        bytes += (unsigned)l->res_read;
        if (l->res_read >= 8) sum += rd32(l->buf) ^ rd32(l->buf + l->res_read - 4);
        if (l->res_read < 4 || rd32(l->buf) != stamp(l->file, W2_SEED)) bad++;
      }
      if (next < n) queue_chain(&r, l, slot, next++, paths);
      else active--;
    }
    atomic_store_explicit((_Atomic unsigned *)r.cq_head, head, memory_order_release);
  }
  long long ns = mono_ns() - t0;

  printf("{\"files\":%llu,\"ns\":%lld,\"bytes\":%llu,\"sum\":%u,\"bad\":%u", files, ns, bytes, sum, bad);
  if (first_err) printf(",\"error\":\"%s: %s\"", err_what, strerror(first_err));
  printf("}\n");
  return first_err ? 1 : 0;
}
