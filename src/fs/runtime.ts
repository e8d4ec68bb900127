// The fs layer's per-thread runtime: one lazily opened ring, its direct
// descriptor table, caches of pool memory, and small helpers that submit one
// SQE and map its result the way node:fs would.
//
// Memory: the kernel (or a scheme worker) only ever sees pool memory
// (SharedArrayBuffer regions), never a user's buffer. Reads land in a pool
// chunk and are copied into the user's buffer at completion, unless the op
// was abandoned (S2); writes copy the user's bytes into a chunk at submission.
// So a user buffer that is detached, transferred, resized or collected while
// its op is in flight is harmless (S1). A chunk goes back to its cache only
// in the job's done(), which runs at the job's last CQE whatever happened to
// its promise.

import { Ring } from '../ring/ring.js';
import { Job, type Executor } from '../executor/executor.js';
import type { BufferPool, Chunk } from '../buffers/pool.js';
import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import { errnoError } from '../errors.js';

/** One piece of pool memory with a Buffer view over it. */
export class Mem {
  constructor(
    readonly chunk: Chunk,
    /** Address the consumer uses (SQE addr). */
    readonly addr: number,
    /** The chunk's bytes, as a Buffer (SharedArrayBuffer-backed). */
    readonly buf: Buffer,
    /** Size class index in the cache, or -1 for an uncached chunk. */
    readonly cls: number,
  ) {}
}

/**
 * Size classes from 64 B (paths, statx buffers: many share a page) to 1 MiB.
 * A chunk is aligned to its class size, up to a page, so an O_DIRECT
 * transfer of a block-size multiple is always aligned. Small classes matter
 * beyond memory: every fresh page is a page fault, and a burst of 20,000
 * stat() calls once cost 20,000 pages, and most of its time, in faults.
 */
const MIN_CLASS_SHIFT = 6; // 64 B
const PAGE = 4096;
const MAX_CLASS_SHIFT = 20; // 1 MiB
/** Each size class keeps at most this many chunks, and this many bytes, for reuse. */
const CACHE_MAX_CHUNKS = 1024;
const CACHE_BYTES_PER_CLASS = 16 << 20;

export const EBADF = -9;
export const ECANCELED = -125;

/** Pool bytes big ops may hold at once (the pool's default cap is 1 GiB). */
const BIG_LIMIT = 256 << 20;
/** Ops holding more pool memory than this go through acquireBig(). */
export const BIG_OP = 1 << 20;

/** Direct descriptor slots in the registered file table. */
const DIRECT_SLOTS = 4096;

/** The close of a direct descriptor: state on the job, no closure, no promise. */
class CloseSlotJob extends Job {
  rt!: FsRuntime;
  dslot = -1;
}

function closeSlotDone(j: Job): void {
  const job = j as CloseSlotJob;
  job.rt.slotClosed(job.dslot);
}

export class FsRuntime {
  readonly ring: Ring;
  readonly ex: Executor;
  readonly pool: BufferPool;
  /** Direct descriptors (registered sparse file table) work on this backend. */
  readonly direct: boolean;
  /** Size of the registered file table (0 without direct descriptors). */
  readonly slotCount: number;
  readonly ftruncate: boolean;
  private readonly freeSlots: number[] = [];
  private readonly cache: Mem[][] = [];
  private readonly cacheCap: number[] = [];
  /** Live Mems by class, for leak accounting in tests. */
  private memOut = 0;
  /** Slots whose close is still pending (tests check they all come back). */
  slotsBusy = 0;

  /** Builds the fs layer on `ring`: its executor, pool and file table become the runtime's. */
  constructor(ring: Ring) {
    this.ring = ring;
    this.ex = ring.executor;
    this.pool = this.ring.pool;
    // The table counts against RLIMIT_NOFILE (EMFILE beyond it): step down.
    let slots = 0;
    for (const n of [DIRECT_SLOTS, 1024, 256, 64]) {
      try {
        this.ring.registerFilesSparse(n);
        slots = n;
        break;
      } catch {
        // try a smaller table; none at all means no direct descriptors
      }
    }
    this.direct = slots > 0;
    this.slotCount = slots;
    for (let i = slots - 1; i >= 0; i--) this.freeSlots.push(i);
    this.ftruncate = this.ring.supports(abi.IORING_OP_FTRUNCATE);
    for (let s = MIN_CLASS_SHIFT; s <= MAX_CLASS_SHIFT; s++) {
      this.cache.push([]);
      this.cacheCap.push(Math.min(CACHE_MAX_CHUNKS, CACHE_BYTES_PER_CLASS >>> s));
    }
  }

  // ---- pool memory ----

  /** At least `size` bytes of pool memory, aligned to min(its class size, 4 KiB). Give it back with put(). */
  get(size: number): Mem {
    this.memOut++;
    if (size <= 1 << MAX_CLASS_SHIFT) {
      const cls = size <= 1 << MIN_CLASS_SHIFT ? 0 : 32 - Math.clz32(size - 1) - MIN_CLASS_SHIFT;
      const m = this.cache[cls]!.pop();
      if (m !== undefined) return m;
      return this.make(1 << (cls + MIN_CLASS_SHIFT), cls);
    }
    return this.make(size, -1);
  }

  put(m: Mem): void {
    this.memOut--;
    if (m.cls >= 0) {
      const list = this.cache[m.cls]!;
      if (list.length < this.cacheCap[m.cls]!) {
        list.push(m);
        return;
      }
    }
    this.pool.free(m.chunk);
  }

  private make(size: number, cls: number): Mem {
    const c = this.pool.alloc(size, Math.min(size, PAGE));
    const r = c.region;
    // Over the region's plain alias: our copies in and out are memmoves (see Region.plain).
    const v = c.copyView(size);
    return new Mem(c, r.addr + c.offset, Buffer.from(v.buffer, v.byteOffset, size), cls);
  }

  /** Bytes of pool memory parked in the size-class caches, ready for reuse. */
  get cachedBytes(): number {
    let n = 0;
    for (let c = 0; c < this.cache.length; c++) n += this.cache[c]!.length << (c + MIN_CLASS_SHIFT);
    return n;
  }

  /** Pool memory not yet given back (tests: 0 when idle). */
  get memOutstanding(): number {
    return this.memOut;
  }

  // ---- memory admission ----

  /** Pool bytes held by big ops in flight; over the limit, new big ops wait their turn. */
  private bigBytes = 0;
  private readonly bigWaiters: { bytes: number; go: () => void }[] = [];

  /**
   * Admits an op that will hold `bytes` of pool memory (big writes, big
   * reads): resolves at once under the limit, else when earlier ops give
   * memory back. Storms of large writes queue instead of exhausting the pool.
   * Pair with releaseBig(bytes).
   */
  acquireBig(bytes: number): Promise<void> | null {
    if (this.bigBytes === 0 || (this.bigBytes + bytes <= BIG_LIMIT && this.bigWaiters.length === 0)) {
      this.bigBytes += bytes;
      return null;
    }
    return new Promise<void>((go) => this.bigWaiters.push({ bytes, go }));
  }

  releaseBig(bytes: number): void {
    this.bigBytes -= bytes;
    while (this.bigWaiters.length > 0) {
      const w = this.bigWaiters[0]!;
      if (this.bigBytes !== 0 && this.bigBytes + w.bytes > BIG_LIMIT) break;
      this.bigWaiters.shift();
      this.bigBytes += w.bytes;
      w.go();
    }
  }

  // ---- direct descriptors ----

  /** A free direct-descriptor slot, or -1. */
  takeSlot(): number {
    const s = this.freeSlots.pop();
    if (s === undefined) return -1;
    this.slotsBusy++;
    return s;
  }

  /**
   * Returns a slot after its chain: `opened` when the open into it
   * succeeded, `closeRes` the linked close's result. A close that did not
   * run (cancelled) is redone before the slot is reused (S7).
   */
  slotDone(slot: number, opened: boolean, closeRes: number): void {
    if (!opened || closeRes >= 0 || closeRes === EBADF) {
      this.freeSlots.push(slot);
      this.slotsBusy--;
      return;
    }
    this.closeSlot(slot);
  }

  /** Closes a direct descriptor, then frees its slot. */
  closeSlot(slot: number): void {
    if (this.ex.closed) return; // the kernel drops the whole table with the ring
    const job = this.ex.begin('close', new CloseSlotJob('close')) as CloseSlotJob;
    job.rt = this;
    job.dslot = slot;
    job.done = closeSlotDone;
    const at = this.ex.add(job); // add() first: staging may grow and move
    prep.prep_close_direct(this.ex.sqes, at, slot);
    this.ex.commitDetached(job);
  }

  /** @internal closeSlotDone: the slot is free again. */
  slotClosed(slot: number): void {
    this.freeSlots.push(slot);
    this.slotsBusy--;
  }

  get freeSlotList(): readonly number[] {
    return this.freeSlots;
  }

  // ---- single-SQE helpers (slow paths: closures are fine here) ----

  /** Submits one SQE written by `write(sqes, at)`; resolves with res, rejects on res < 0. */
  op(syscall: string, write: (s: Uint32Array, at: number) => void, path?: string, dest?: string, hold?: Mem | null, hold2?: Mem | null): Promise<number> {
    const job = this.ex.begin(syscall);
    job.path = path;
    job.dest = dest;
    const at = this.ex.add(job); // add() first: staging may grow and move
    write(this.ex.sqes, at);
    job.done = (j: Job) => {
      if (hold) this.put(hold);
      if (hold2) this.put(hold2);
      const res = j.res[0]!;
      if (res < 0) throw errnoError(res, j.syscall, j.path, j.dest);
      return res;
    };
    return this.ex.commit<number>(job);
  }

  /** Copies a NUL-terminated path into pool memory. */
  pathMem(p: string | Uint8Array): Mem {
    if (typeof p === 'string') {
      const max = p.length * 3 + 1;
      const m = this.get(max <= 4096 ? max : Buffer.byteLength(p) + 1);
      const n = m.buf.write(p, 0, 'utf8');
      m.buf[n] = 0;
      return m;
    }
    const m = this.get(p.byteLength + 1);
    m.buf.set(p);
    m.buf[p.byteLength] = 0;
    return m;
  }

  open(path: string | Uint8Array, pathText: string, flags: number, mode: number): Promise<number> {
    const pm = this.pathMem(path);
    return this.op('open', (s, at) => prep.prep_openat(s, at, abi.AT_FDCWD, pm.addr, flags | O_CLOEXEC, mode), pathText, undefined, pm);
  }

  close(fd: number): Promise<number> {
    return this.op('close', (s, at) => prep.prep_close(s, at, fd));
  }

  /** read(2) of up to `len` bytes at `pos` (-1: file position) into `m` at `off`. */
  read(fd: number, m: Mem, off: number, len: number, pos: number): Promise<number> {
    return this.op('read', (s, at) => prep.prep_read(s, at, fd, m.addr + off, len, pos));
  }

  write(fd: number, m: Mem, off: number, len: number, pos: number): Promise<number> {
    return this.op('write', (s, at) => prep.prep_write(s, at, fd, m.addr + off, len, pos));
  }

  fsync(fd: number, datasync: boolean): Promise<number> {
    return this.op(datasync ? 'fdatasync' : 'fsync', (s, at) => prep.prep_fsync(s, at, fd, datasync ? abi.IORING_FSYNC_DATASYNC : 0));
  }

  /** statx into `out` (256 bytes). `path` '' with AT_EMPTY_PATH stats the fd. */
  statx(dfd: number, pm: Mem, flags: number, out: Mem, syscall: string, pathText?: string): Promise<number> {
    return this.op(syscall, (s, at) => prep.prep_statx(s, at, dfd, pm.addr, flags, abi.STATX_BASIC_STATS | abi.STATX_BTIME, out.addr), pathText);
  }
}

export const O_CLOEXEC = 0o2000000;

/** Runs `fn` holding `bytes` of big-op admission (see FsRuntime.acquireBig). */
export async function withBig<T>(rt: FsRuntime, bytes: number, fn: () => Promise<T>): Promise<T> {
  if (bytes < BIG_OP) return fn();
  const wait = rt.acquireBig(bytes);
  if (wait) await wait;
  try {
    return await fn();
  } finally {
    rt.releaseBig(bytes);
  }
}

/** Something to abort when a signal fires. */
export interface Abortable {
  abortNow(): void;
}

/**
 * One 'abort' listener per signal, whatever the number of ops using it: a
 * listener per op would trip EventTarget's MaxListenersExceededWarning where
 * node:fs stays silent.
 */
const watchers = new WeakMap<AbortSignal, Set<Abortable>>();

export function watchAbort(signal: AbortSignal, op: Abortable): void {
  let set = watchers.get(signal);
  if (set === undefined) {
    const s = new Set<Abortable>();
    set = s;
    watchers.set(signal, s);
    signal.addEventListener('abort', () => {
      watchers.delete(signal);
      for (const o of s) o.abortNow();
      s.clear();
    }, { once: true });
  }
  set.add(op);
}

export function unwatchAbort(signal: AbortSignal, op: Abortable): void {
  watchers.get(signal)?.delete(op);
}

export function noop(): void {}

let runtime: FsRuntime | null | undefined;
let runtimeError: Error | null = null;

/** Ring size for the fs layer (URING_FS_ENTRIES overrides; for measurements). */
const ENTRIES = Number(process.env.URING_FS_ENTRIES) || 512;

/**
 * The thread's fs runtime, opened on first use; null when no ring can be
 * opened at all (then every call is served by node:fs/promises).
 */
export function rt(): FsRuntime | null {
  if (runtime !== undefined) return runtime;
  try {
    runtime = new FsRuntime(new Ring({ entries: ENTRIES }));
  } catch (e) {
    runtimeError = e as Error;
    runtime = null;
  }
  return runtime;
}

/** Why rt() is null (diagnostics). */
export function runtimeFailure(): Error | null {
  return runtimeError;
}

/** @internal Tests: close the runtime's ring and forget it (the next call opens a new one). */
export async function resetRuntime(): Promise<void> {
  const r = runtime;
  runtime = undefined;
  if (r) await r.ring.close();
}
