// The executor: batching, backpressure, teardown.
//
// Ops are prepared into a staging array of SQEs in JavaScript memory. Once
// per event-loop turn (setImmediate) the staged SQEs are copied into the
// ring in bulk and submitted with one enter. A job is one op or one linked
// chain; each of its SQEs carries a tag (slot | generation << 32, see
// tags.ts) in user_data, never a pointer, so a stale or forged CQE cannot
// reach the wrong job (S6). A job holds every resource its SQEs point at
// until its last CQE is reaped, whatever happened to its promise (S1, S2).

import { IOSQE_IO_LINK, IOSQE_IO_HARDLINK, IOSQE_CQE_SKIP_SUCCESS, IORING_CQE_F_MORE, IORING_ASYNC_CANCEL_ANY, IORING_ASYNC_CANCEL_ALL } from '../abi/abi.js';
import { prep_cancel, sqe_get_flags, sqe_set_flags } from '../abi/prep.js';
import { assert } from '../abi/assert.js';
import type { Backend } from '../queues/backend.js';
import { errnoError, closedError, uringError } from '../errors.js';
import { URING_CQE_F_EXTENDED, URING_CQE_F_EXTENDED_HI, URING_CQE_F_PEER_DIED } from '../abi/cqe-flags.js';
import { Job, captured, capture, defaultDone, safeDone } from './job.js';
import { Tags, SKIP_BIT, SOFT_BIT, MEMBER_MASK } from './tags.js';

export { Job, type JobDone } from './job.js';

const SQE_WORDS = 16;
/** CQE flag bits we understand; anything else marks a CQE as garbage. */
const KNOWN_CQE_FLAGS = 0x1f | URING_CQE_F_PEER_DIED;
const ECANCELED = -125;
/** Empty reaps in a row after which idle() stops believing the ring's task-work flag. */
const IDLE_EMPTY_LOOKS = 8;
/** Longest wait between rechecks of a stale task-work flag. */
const RECHECK_MAX_MS = 100;

/**
 * Executors with SQEs in flight. Pinned here so that a ring the user
 * dropped is never collected (and unmapped, its pool freed) while the kernel
 * may still write to its memory (S1); an idle one can be collected.
 */
const busy = new Set<Executor>();

export interface ExecutorStats {
  /** SQEs handed to the ring. */
  submitted: number;
  /** Submission calls (io_uring_enter, or notifies for the worker backend). */
  enters: number;
  /** CQEs reaped. */
  reaped: number;
  /** Largest number of SQEs submitted by one enter. */
  maxBatch: number;
  /** SQEs in the kernel whose job has not seen its last CQE. */
  inflight: number;
  /** SQEs waiting in staging for ring or CQ space. */
  staged: number;
  /** CQEs rejected as unknown, stale or malformed (S6). */
  badCqes: number;
  /** Times the ring kept announcing task work that never came (a stale IORING_SQ_TASKRUN). */
  staleWakeups: number;
}

export class Executor {
  readonly backend: Backend;
  /** Staged SQEs, in JavaScript memory, FIFO from stageHead. */
  sqes = new Uint32Array(SQE_WORDS * 64);
  private stageHead = 0;
  private stageTail = 0;
  /** Jobs whose SQEs are staged, in staging order; parallel to stage runs. */
  private stagedJobs: Job[] = [];
  private stagedJobHead = 0;

  private readonly tags = new Tags();

  /** Never more SQEs in flight than the CQ can hold: no overflow by construction. */
  private readonly capacity: number;
  private inflight = 0;
  private flushScheduled = false;
  private flushing = false;
  private refd = false;
  private closing: Promise<void> | null = null;
  /** The backend is destroyed: its memory is unmapped, nothing may touch it. */
  private dead = false;
  private quiesced: (() => void) | null = null;
  readonly counters: Omit<ExecutorStats, 'inflight' | 'staged'> = {
    submitted: 0, enters: 0, reaped: 0, maxBatch: 0, badCqes: 0, staleWakeups: 0,
  };

  constructor(backend: Backend) {
    this.backend = backend;
    this.capacity = Math.min(backend.cq.entries, 1 << 20);
    // The readiness watch holds its callback from native code, a GC root:
    // a callback that held the executor strongly would keep every ring ever
    // opened (its fds and mappings) alive until exit, closed or not. It
    // reaches the executor weakly instead; `busy` pins the executor while
    // the kernel may still write to its memory.
    const self = new WeakRef(this);
    backend.start(() => self.deref()?.onReady());
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  stats(): ExecutorStats {
    return { ...this.counters, inflight: this.inflight, staged: this.stageTail - this.stageHead };
  }

  /**
   * Starts a job. Add its SQEs with add(), then commit() it. `job` may be a
   * fresh instance of a Job subclass carrying the caller's per-op state (so
   * hot paths need no closure per op).
   */
  begin(syscall: string, job: Job = new Job(syscall)): Job {
    if (this.closing) throw closedError();
    this.stagedJobs.push(job);
    return job;
  }

  /**
   * Appends one SQE to `job`, which must be the job begun last, and returns
   * its word index in `sqes`. Valid until the next add(): staging may move.
   */
  add(job: Job): number {
    assert(!job.committed && this.stagedJobs[this.stagedJobs.length - 1] === job, 'add() to a job that is not being built');
    this.reserve(1);
    const slot = this.tags.alloc(job, job.size);
    job.pushSlot(slot);
    const at = this.stageTail * SQE_WORDS;
    this.sqes[at + 8] = slot;
    this.sqes[at + 9] = this.tags.gens[slot]!;
    this.stageTail++;
    return at;
  }

  /** Word index of the SQE staged last (the one add() returned most recently). */
  lastSqe(): number {
    assert(this.stageTail > this.stageHead, 'no SQE is staged');
    return (this.stageTail - 1) * SQE_WORDS;
  }

  /** The generation half of the tag currently carried by `slot`. */
  generation(slot: number): number {
    return this.tags.gens[slot]!;
  }

  /**
   * Seals `job`: links its SQEs into a chain (hard links when `hard`),
   * checks that the last SQE will post a CQE, schedules the flush, and
   * returns the job's promise.
   */
  commit<T>(job: Job, hard = false): Promise<T> {
    if (!this.seal(job, hard)) {
      return Promise.reject(uringError('ERR_OUT_OF_RANGE', `a chain of ${job.size} SQEs cannot fit in this ring (at most ${this.chainLimit()})`));
    }
    // A shared executor function instead of a closure per op: one less
    // allocation on the hottest path.
    const promise = new Promise<T>(capture);
    job.resolve = captured.resolve;
    job.reject = captured.reject;
    return promise;
  }

  /**
   * commit() for a job nobody awaits (a cleanup close, a cancel): no
   * promise, so none to allocate, settle and catch. Its done() still runs
   * at the last CQE. Returns false if the chain could never fit.
   */
  commitDetached(job: Job, hard = false): boolean {
    job.settled = true;
    return this.seal(job, hard);
  }

  private chainLimit(): number {
    return Math.min(this.backend.sq.entries, this.capacity);
  }

  private seal(job: Job, hard: boolean): boolean {
    assert(job.size > 0 && !job.committed, 'commit() needs a job with SQEs');
    if (job.size > this.chainLimit()) {
      // A chain goes to the kernel in one enter: one longer than the SQ (or
      // the CQ budget) could never be submitted and would wait forever (S3).
      job.res = new Array<number>(job.size).fill(ECANCELED);
      this.discard(job);
      return false;
    }
    const first = this.stageTail - job.size;
    let left = 1; // the last SQE always posts
    for (let k = 0; k < job.size - 1; k++) {
      const at = (first + k) * SQE_WORDS;
      const f = sqe_get_flags(this.sqes, at);
      let linked = f & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
      if (!linked) {
        linked = hard ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK;
        sqe_set_flags(this.sqes, at, f | linked);
      }
      const slot = job.slotAt(k);
      if (!(linked & IOSQE_IO_HARDLINK)) this.tags.members[slot]! |= SOFT_BIT;
      if (f & IOSQE_CQE_SKIP_SUCCESS) this.tags.members[slot]! |= SKIP_BIT;
      else left++;
    }
    job.left = left;
    const lastFlags = sqe_get_flags(this.sqes, (first + job.size - 1) * SQE_WORDS);
    assert(!(lastFlags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)), 'a chain cannot link past its last SQE');
    assert(!(lastFlags & IOSQE_CQE_SKIP_SUCCESS), 'the last SQE of a job must post a CQE');
    job.res = job.size === 1 ? [0] : new Array<number>(job.size).fill(0);
    job.committed = true;
    this.schedule();
    return true;
  }

  /** Drops a job that was begun but will not be committed (bad arguments). */
  discard(job: Job): void {
    assert(!job.committed && this.stagedJobs[this.stagedJobs.length - 1] === job, 'discard() of a job not being built');
    this.stagedJobs.pop();
    this.stageTail -= job.size;
    this.tags.release(job);
    job.finished = true;
    // done() walks res to free what each SQE took; never-run SQEs read 0.
    if (job.res.length !== job.size) job.res = new Array<number>(job.size).fill(0);
    job.settled = true;
    if (job.done) safeDone(job);
  }

  /**
   * Abandons a job: its promise rejects now with `reason`, and the kernel is
   * asked to cancel it. Its resources stay held until its CQEs arrive (S2).
   */
  abandon(job: Job, reason: Error): void {
    if (job.finished || job.settled) return;
    job.settled = true;
    job.reject(reason);
    if (this.closing) return;
    this.cancel(job);
  }

  private cancel(job: Job): void {
    // Cancelling the head cancels the links after it (-ECANCELED); hard
    // links still run, which is what keeps a linked close from leaking.
    for (let k = 0; k < job.size; k++) {
      const slot = job.slotAt(k);
      const c = this.begin('cancel');
      const at = this.add(c); // before reading this.sqes: add() may grow staging
      prep_cancel(this.sqes, at, slot, this.tags.gens[slot]!, 0);
      this.commitDetached(c);
    }
  }

  /** Submits everything staged now, instead of at the end of the turn. */
  flush(): void {
    this.flushScheduled = false;
    // A flush scheduled before close() may run after the ring is unmapped.
    if (this.flushing || this.dead) return;
    this.flushing = true;
    try {
      // idle() may reap completions (DEFER_TASKRUN task work, e.g. the rest
      // of a linked chain) that free room for staged jobs: submit them now,
      // or nothing would ever wake us for them (S3).
      do this.flushLoop();
      while (this.stageTail !== this.stageHead && this.takeable() > 0);
    } finally {
      this.flushing = false;
    }
  }

  private flushLoop(): void {
    for (let spins = 0; ; spins++) {
      const take = this.takeable();
      if (take > 0) this.submit(take);
      else if (this.backend.sq.pending() > 0) this.enter(0);
      const reaped = this.drain();
      if (this.stageTail === this.stageHead || (take === 0 && reaped === 0)) break;
      assert(spins < 1_000_000, 'flush made no progress');
    }
    this.compact();
    this.idle();
  }

  /** Re-arms wakeups before going idle; drains again if work slipped in. */
  private idle(): void {
    for (let empty = 0; this.backend.arm(this.inflight > 0); ) {
      this.backend.reap();
      if (this.drain() > 0) empty = 0;
      else if (++empty === IDLE_EMPTY_LOOKS) {
        // The kernel can leave IORING_SQ_TASKRUN set with no task work
        // behind it: it raises the flag just after queueing the work, and
        // our enter may have run that work in between. arm() would then
        // say "look again" forever. Stop looking: a completion that comes
        // later still signals the eventfd, and the recheck covers task work
        // that posts no CQE.
        this.backend.arm();
        this.recheckLater();
        this.updateRef();
        return;
      }
    }
    this.recheckMs = 1;
    this.updateRef();
  }

  private recheck: NodeJS.Timeout | null = null;
  /**
   * Delay of the next recheck. It doubles while the flag stays stale (only
   * the kernel's next task-work run clears it), so an op parked for hours
   * costs a few looks a second, not a thousand.
   */
  private recheckMs = 1;

  private recheckLater(): void {
    this.counters.staleWakeups++;
    if (this.recheck || this.inflight === 0) return;
    const ms = this.recheckMs;
    this.recheckMs = Math.min(ms * 2, RECHECK_MAX_MS);
    // Unref'd: while ops are in flight the ring's own handle keeps us alive.
    this.recheck = setTimeout(() => {
      this.recheck = null;
      if (!this.dead) this.onReady();
    }, ms).unref();
  }

  /** How many staged SQEs fit now, never splitting a chain. */
  private takeable(): number {
    const room = Math.min(this.backend.sq.space(), this.capacity - this.inflight);
    let take = 0;
    for (let j = this.stagedJobHead; j < this.stagedJobs.length; j++) {
      const job = this.stagedJobs[j]!;
      const n = job.size;
      if (!job.committed || take + n > room) break;
      take += n;
    }
    assert(take > 0 || room >= 0, 'negative ring room');
    return take;
  }

  private submit(take: number): void {
    this.backend.awake();
    this.backend.sq.push(this.sqes, this.stageHead, take);
    this.stageHead += take;
    let sqes = 0;
    while (sqes < take) {
      const job = this.stagedJobs[this.stagedJobHead]!;
      this.stagedJobs[this.stagedJobHead++] = undefined as unknown as Job;
      job.submitted = true;
      sqes += job.size;
    }
    this.inflight += take;
    this.counters.submitted += take;
    if (take > this.counters.maxBatch) this.counters.maxBatch = take;
    this.enter(take);
  }

  private enter(count: number): void {
    this.counters.enters++;
    const ret = this.backend.submit(count);
    if (ret >= 0 || ret === -4 /* EINTR */ || ret === -11 /* EAGAIN */ || ret === -16 /* EBUSY */) return;
    // The ring itself is broken (EBADF, EFAULT, ...): nothing staged can run.
    throw errnoError(ret, 'io_uring_enter');
  }

  /** Reaps every visible CQE. Returns how many. */
  drain(): number {
    const cq = this.backend.cq;
    const c = cq.cqes;
    let head = cq.head();
    const tail = cq.tail();
    const n = (tail - head) >>> 0;
    if (n === 0) return 0;
    if (n > cq.entries) {
      // A peer published an impossible tail (S6): count it, resynchronise.
      this.counters.badCqes++;
      cq.advance(tail);
      return 0;
    }
    for (let i = 0; i < n; i++) {
      const w = cq.at(head);
      head = (head + 1) >>> 0;
      let res = c[w + 2]!;
      let flags = c[w + 3]! >>> 0;
      if (flags & URING_CQE_F_EXTENDED) {
        // A 64-bit result: the high half rides in the next CQE, same tag.
        const w2 = cq.at(head);
        if (i + 1 >= n || c[w2] !== c[w] || c[w2 + 1] !== c[w + 1] || !(c[w2 + 3]! & URING_CQE_F_EXTENDED_HI)) {
          this.counters.badCqes++;
          continue;
        }
        head = (head + 1) >>> 0;
        i++;
        res = c[w2 + 2]! * 0x100000000 + (res >>> 0);
        flags = (flags | (c[w2 + 3]! >>> 0)) & ~(URING_CQE_F_EXTENDED | URING_CQE_F_EXTENDED_HI);
      }
      this.complete(c[w]! >>> 0, c[w + 1]! >>> 0, res, flags);
    }
    cq.advance(head);
    this.counters.reaped += n;
    if (this.inflight === 0) {
      this.updateRef();
      if (this.quiesced) this.quiesced();
    }
    return n;
  }

  private complete(slot: number, gen: number, res: number, flags: number): void {
    const tags = this.tags;
    const job = slot < tags.owners.length ? tags.owners[slot] : null;
    if (!job || tags.gens[slot] !== gen || !job.submitted || (flags & ~KNOWN_CQE_FLAGS & 0xffff) !== 0) {
      this.counters.badCqes++;
      return;
    }
    const m = tags.members[slot]!;
    const k = m & MEMBER_MASK;
    job.res[k] = res;
    if (flags & URING_CQE_F_PEER_DIED) job.died = true;
    if (flags & IORING_CQE_F_MORE) return; // multishot: more CQEs follow
    if (m & SKIP_BIT) {
      // A skip-on-success SQE posts only when it failed, and is not counted.
      // If it broke a soft link, the kernel skips the CQEs of the rest of
      // the chain too (REQ_F_SKIP_LINK_CQES): count them as cancelled here,
      // or the job would wait forever (S3). Not so when an earlier failure
      // cancelled it: that cascade posts every CQE, this one included.
      if (m & SOFT_BIT && !job.broken) this.skipRest(job, k);
      return;
    }
    if (res < 0 && m & SOFT_BIT) job.broken = true;
    if (--job.left === 0) this.finish(job);
  }

  /** The members after `k` were cancelled without CQEs. */
  private skipRest(job: Job, k: number): void {
    for (let i = k + 1; i < job.size; i++) {
      job.res[i] = ECANCELED;
      if (!(this.tags.members[job.slotAt(i)]! & SKIP_BIT)) job.left--;
    }
    assert(job.left >= 0, 'more CQEs skipped than expected');
    if (job.left === 0) this.finish(job);
  }

  private finish(job: Job): void {
    job.finished = true;
    this.tags.release(job);
    this.inflight -= job.size;
    let value: unknown;
    let error: Error | null = null;
    try {
      value = job.done ? job.done(job) : defaultDone(job);
    } catch (e) {
      error = e as Error;
    }
    if (job.died) error = uringError('ERR_URING_WORKER_DIED', `The scheme worker running this ${job.syscall} died before it completed`);
    job.holds = null;
    if (job.settled) return;
    job.settled = true;
    if (error) job.reject(error);
    else job.resolve(value);
  }

  private onReady(): void {
    this.backend.reap();
    this.drain();
    if (this.stageTail !== this.stageHead) this.flush();
    else this.idle();
  }

  private schedule(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Keeps the process alive exactly while something is in flight (S4). */
  private updateRef(): void {
    const want = this.inflight > 0;
    if (want !== this.refd) {
      this.refd = want;
      if (want) busy.add(this);
      else busy.delete(this);
      this.backend.ref(want);
    }
  }

  private reserve(n: number): void {
    const need = (this.stageTail + n) * SQE_WORDS;
    if (need <= this.sqes.length) return;
    this.compact();
    const need2 = (this.stageTail + n) * SQE_WORDS;
    if (need2 <= this.sqes.length) return;
    const grown = new Uint32Array(Math.max(need2, this.sqes.length * 2));
    grown.set(this.sqes.subarray(0, this.stageTail * SQE_WORDS));
    this.sqes = grown;
  }

  private compact(): void {
    if (this.stageHead === 0) return;
    this.sqes.copyWithin(0, this.stageHead * SQE_WORDS, this.stageTail * SQE_WORDS);
    this.stageTail -= this.stageHead;
    this.stageHead = 0;
    this.stagedJobs = this.stagedJobs.slice(this.stagedJobHead);
    this.stagedJobHead = 0;
  }

  /**
   * Closes the ring: staged jobs that never reached the kernel reject at
   * once; in-flight jobs reject with ERR_URING_CLOSED, are cancelled, and
   * keep their memory until the kernel has answered for them; then the
   * ring is unmapped (S4). Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const err = closedError();
    for (let j = this.stagedJobHead; j < this.stagedJobs.length; j++) {
      const job = this.stagedJobs[j]!;
      this.tags.release(job);
      job.finished = true;
      if (!job.settled) {
        job.settled = true;
        job.reject(err);
      }
      if (job.done) safeDone(job);
    }
    this.stagedJobs = [];
    this.stagedJobHead = 0;
    this.stageHead = this.stageTail = 0;
    for (const job of this.tags.owners) {
      if (job && !job.settled) {
        job.settled = true;
        job.reject(err);
      }
    }
    if (this.inflight > 0) await this.quiesce();
    this.updateRef();
    this.dead = true;
    if (this.recheck) clearTimeout(this.recheck);
    this.backend.destroy();
  }

  /** Cancels everything in the kernel and waits for the last CQE. */
  private quiesce(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.quiesced = resolve;
      this.updateRef();
      // ASYNC_CANCEL_ANY | ALL: one SQE cancels every request in the ring.
      // begin() refuses once closing, so build the job by hand.
      const job = new Job('cancel');
      this.stagedJobs.push(job);
      const at = this.add(job); // before reading this.sqes: add() may grow staging
      prep_cancel(this.sqes, at, 0, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
      job.res = [0];
      job.left = 1;
      job.committed = true;
      job.settled = true;
      this.flush();
      if (this.inflight === 0) resolve();
    });
  }
}
