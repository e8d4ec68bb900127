/* W3 C reference for `uring bench`: NOP round trips, BATCH NOPs per
 * io_uring_enter, waiting for the whole batch; for DURATION_MS. Raw syscalls.
 * Usage: w3_nop [DURATION_MS] [BATCH]   Prints {"count":N,"ns":N,"bad":N}. */
#include "ring.h"

int main(int argc, char **argv) {
  long long ms = argc > 1 ? atoll(argv[1]) : 3000;
  unsigned batch = argc > 2 ? (unsigned)atoi(argv[2]) : 64;
  if (batch < 1 || batch > 4096) batch = 64;
  unsigned entries = 1;
  while (entries < batch) entries <<= 1;
  struct ring r;
  ring_init(&r, entries);

  unsigned long long count = 0, bad = 0, seq = 0;
  long long t0 = mono_ns(), end = t0 + ms * 1000000LL, t;
  do {
    for (unsigned i = 0; i < batch; i++) {
      struct io_uring_sqe *s = ring_sqe(&r);
      s->opcode = IORING_OP_NOP;
      s->user_data = ++seq;
    }
    ring_submit_wait(&r, batch);
    unsigned got = 0;
    while (got < batch) {
      unsigned head = *r.cq_head;
      unsigned tail = atomic_load_explicit((_Atomic unsigned *)r.cq_tail, memory_order_acquire);
      for (; head != tail; head++, got++) {
        struct io_uring_cqe *c = &r.cqes[head & *r.cq_mask];
        if (c->res != 0 || c->user_data == 0 || c->user_data > seq) bad++;
      }
      atomic_store_explicit((_Atomic unsigned *)r.cq_head, head, memory_order_release);
      if (got < batch) ring_submit_wait(&r, batch - got);
    }
    count += batch;
    t = mono_ns();
  } while (t < end);

  printf("{\"count\":%llu,\"ns\":%lld,\"bad\":%llu}\n", count, t - t0, bad);
  return 0;
}
