/* Minimal io_uring setup over raw syscalls (no liburing), shared by the C
 * references of `uring bench`. Header-only: each reference is one cc call. */
#ifndef URING_BENCH_RING_H
#define URING_BENCH_RING_H

#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct ring {
  int fd;
  unsigned flags;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
  unsigned sq_local_tail;
};

static inline int sys_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}

static inline int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}

static inline int sys_register(int fd, unsigned op, const void *arg, unsigned nr) {
  return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

/* One JSON error line (the harness reads the last stdout line) and exit 1. */
static inline void die(const char *what, int err) {
  printf("{\"count\":0,\"files\":0,\"ns\":0,\"bytes\":0,\"sum\":0,\"bad\":0,\"error\":\"%s: %s\"}\n", what, strerror(err));
  exit(1);
}

/* Try the fast single-issuer setup first, then fall back to plain flags. */
static inline void ring_init(struct ring *r, unsigned entries) {
  static const unsigned tries[] = {
#ifdef IORING_SETUP_DEFER_TASKRUN
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
#endif
#ifdef IORING_SETUP_COOP_TASKRUN
    IORING_SETUP_COOP_TASKRUN,
#endif
    0,
  };
  struct io_uring_params p;
  int fd = -1;
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
    memset(&p, 0, sizeof p);
    p.flags = tries[i];
    fd = sys_setup(entries, &p);
    if (fd >= 0) break;
    if (errno != EINVAL) break;
  }
  if (fd < 0) die("io_uring_setup", errno);
  r->fd = fd;
  r->flags = p.flags;
  size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP) sq_sz = cq_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
  char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) die("mmap sq", errno);
  char *cq = sq;
  if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
    cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) die("mmap cq", errno);
  }
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) die("mmap sqes", errno);
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  r->sq_local_tail = *r->sq_tail;
}

/* Next free SQE, zeroed; the caller must not queue more than the ring holds. */
static inline struct io_uring_sqe *ring_sqe(struct ring *r) {
  unsigned idx = r->sq_local_tail & *r->sq_mask;
  struct io_uring_sqe *s = &r->sqes[idx];
  memset(s, 0, sizeof *s);
  r->sq_array[idx] = idx;
  r->sq_local_tail++;
  return s;
}

/* Publish queued SQEs; returns how many. */
static inline unsigned ring_flush(struct ring *r) {
  unsigned n = r->sq_local_tail - *r->sq_tail;
  atomic_store_explicit((_Atomic unsigned *)r->sq_tail, r->sq_local_tail, memory_order_release);
  return n;
}

/* Submit everything queued and wait for at least `wait` completions. */
static inline void ring_submit_wait(struct ring *r, unsigned wait) {
  ring_flush(r);
  for (;;) {
    unsigned n = r->sq_local_tail - atomic_load_explicit((_Atomic unsigned *)r->sq_head, memory_order_acquire);
    int ret = sys_enter(r->fd, n, wait, IORING_ENTER_GETEVENTS);
    if (ret >= 0 && (unsigned)ret == n) return;
    if (ret < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) die("io_uring_enter", errno);
  }
}

static inline long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
