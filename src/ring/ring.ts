// The low-level public API: a ring, and one method per io_uring op, named
// after liburing's io_uring_prep_*. Each method queues one SQE; everything
// queued in one event-loop turn goes to the kernel in one enter.
//
// Ownership: the kernel only ever sees pool memory. Buffers you pass are
// copied into a pool chunk on submit (writes) or out of one on completion
// (reads), so detaching, transferring, resizing or dropping your buffer
// mid-flight is harmless (S1), and an abandoned read never writes into your
// buffer after you stopped waiting (S2). For zero copies, use the *_fixed
// ops with memory from `ring.pool`.

import * as abi from './abi.js';
import * as prep from './prep.js';
import { Executor, Job, type ExecutorStats } from '../executor.js';
import { openBackend, type BackendOptions } from '../backends/select.js';
import type { Backend } from '../backends/backend.js';
import { BufferPool, Chunk } from '../buffers/pool.js';
import { errnoError, uringError } from '../errors.js';
import { parseStatx, type Statx } from './statx.js';

export type { Statx };
export interface RingOptions extends BackendOptions {}

const ETIME = 62;
/** Links an op's promise to its job, for cancel(), timeout_remove(), poll_remove(). */
const kJob = Symbol('uring.job');
type Tagged = Promise<unknown> & { [kJob]?: Job };
const encoder = new TextEncoder();

/** Per-SQE completion hook: frees and copies out; returns the member's value. */
type After = (res: number, abandoned: boolean) => unknown;

/**
 * Writes SQEs into one job. `ring.chain()` hands you one to build a linked
 * chain; Ring's own methods use it for single ops.
 */
export class SqeWriter {
  /** @internal */ job!: Job;
  /** @internal */ after: (After | null)[] = [];

  /** @internal */
  constructor(private readonly ring: Ring) {}

  private get ex(): Executor {
    return this.ring.executor;
  }

  private sqe(after: After | null = null): number {
    this.after.push(after);
    return this.ex.add(this.job);
  }

  private chunk(size: number, align = 16): Chunk {
    const c = this.ring.pool.alloc(size, align);
    this.job.hold(c);
    return c;
  }

  private free(c: Chunk): void {
    this.ring.pool.free(c);
  }

  /** A NUL-terminated copy of `path` in pool memory. */
  private path(path: string | Uint8Array): Chunk {
    const bytes = typeof path === 'string' ? encoder.encode(path) : path;
    if (bytes.includes(0)) throw uringError('ERR_INVALID_ARG_VALUE', 'paths must not contain null bytes');
    const c = this.chunk(bytes.length + 1);
    const v = c.view(bytes.length + 1);
    v.set(bytes);
    v[bytes.length] = 0;
    return c;
  }

  /** Frees pool chunks when the SQE completes. */
  private freeing(...chunks: Chunk[]): After {
    return (res) => {
      for (const c of chunks) this.free(c);
      return res;
    };
  }

  /** Sets IOSQE_* flags on the SQE written last (e.g. IOSQE_IO_HARDLINK). */
  flags(f: number): this {
    if (this.job.size === 0) throw uringError('ERR_INVALID_STATE', 'flags() applies to the SQE written last; there is none');
    const at = this.lastAt();
    prep.sqe_set_flags(this.ex.sqes, at, prep.sqe_get_flags(this.ex.sqes, at) | f);
    return this;
  }

  private lastAt(): number {
    const ex = this.ex as unknown as { stageTail: number };
    return (ex.stageTail - 1) * 16;
  }

  nop(): this {
    prep.prep_nop(this.ex.sqes, this.sqe());
    return this;
  }

  /** Reads up to buffer.byteLength bytes at `position` (-1: the file position). */
  read(fd: number, buffer: ArrayBufferView, position = -1): this {
    const len = buffer.byteLength;
    const c = this.chunk(len);
    const target = new Uint8Array(buffer.buffer, buffer.byteOffset, len);
    const at = this.sqe((res, abandoned) => {
      // A detached or shrunk target has a smaller byteLength now: never
      // write past what it still has, and never after abandonment (S2).
      if (res > 0 && !abandoned) target.set(c.view(Math.min(res, target.byteLength)));
      this.free(c);
      return res > len ? -5 /* EIO: a peer claimed more than we asked */ : res;
    });
    prep.prep_read(this.ex.sqes, at, fd, c.addr, len, position);
    return this;
  }

  /** Writes buffer's bytes at `position` (-1: the file position). */
  write(fd: number, buffer: ArrayBufferView, position = -1): this {
    const len = buffer.byteLength;
    const c = this.chunk(len);
    c.view(len).set(new Uint8Array(buffer.buffer, buffer.byteOffset, len));
    prep.prep_write(this.ex.sqes, this.sqe(this.freeing(c)), fd, c.addr, len, position);
    return this;
  }

  /** Vectored read into `buffers`, filled in order. */
  readv(fd: number, buffers: ArrayBufferView[], position = -1): this {
    const { iov, chunks, total } = this.iovecs(buffers, false);
    const at = this.sqe((res, abandoned) => {
      let left = abandoned ? 0 : Math.min(res, total);
      buffers.forEach((b, i) => {
        const n = Math.min(left, b.byteLength);
        if (n > 0) new Uint8Array(b.buffer, b.byteOffset, n).set(chunks[i]!.view(n));
        left -= n;
      });
      for (const c of chunks) this.free(c);
      this.free(iov);
      return res;
    });
    prep.prep_readv(this.ex.sqes, at, fd, iov.addr, buffers.length, position);
    return this;
  }

  /** Vectored write of `buffers`, in order. */
  writev(fd: number, buffers: ArrayBufferView[], position = -1): this {
    const { iov, chunks } = this.iovecs(buffers, true);
    prep.prep_writev(this.ex.sqes, this.sqe(this.freeing(iov, ...chunks)), fd, iov.addr, buffers.length, position);
    return this;
  }

  private iovecs(buffers: ArrayBufferView[], copyIn: boolean): { iov: Chunk; chunks: Chunk[]; total: number } {
    const iov = this.chunk(buffers.length * abi.IOVEC.size, 8);
    const words = new Uint32Array(iov.region.sab, iov.region.bytes.byteOffset + iov.offset, buffers.length * 4);
    const chunks: Chunk[] = [];
    let total = 0;
    buffers.forEach((b, i) => {
      const c = this.chunk(b.byteLength);
      if (copyIn) c.view(b.byteLength).set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      chunks.push(c);
      prep.setU64(words, i * 4, c.addr);
      prep.setU64(words, i * 4 + 2, b.byteLength);
      total += b.byteLength;
    });
    return { iov, chunks, total };
  }

  /** Reads into registered pool memory: no copy. `chunk` must come from ring.pool. */
  read_fixed(fd: number, chunk: Chunk, len: number, position = -1): this {
    const at = this.sqe();
    prep.prep_read_fixed(this.ex.sqes, at, fd, chunk.addr, Math.min(len, chunk.size), position, this.ring.bufIndex(chunk));
    this.job.hold(chunk);
    return this;
  }

  /** Writes from registered pool memory: no copy. */
  write_fixed(fd: number, chunk: Chunk, len: number, position = -1): this {
    const at = this.sqe();
    prep.prep_write_fixed(this.ex.sqes, at, fd, chunk.addr, Math.min(len, chunk.size), position, this.ring.bufIndex(chunk));
    this.job.hold(chunk);
    return this;
  }

  fsync(fd: number, datasync = false): this {
    prep.prep_fsync(this.ex.sqes, this.sqe(), fd, datasync ? abi.IORING_FSYNC_DATASYNC : 0);
    return this;
  }

  sync_file_range(fd: number, offset: number, len: number, flags = 0): this {
    prep.prep_sync_file_range(this.ex.sqes, this.sqe(), fd, len, offset, flags);
    return this;
  }

  openat(dirfd: number, path: string | Uint8Array, flags: number, mode = 0o666): this {
    const p = this.path(path);
    prep.prep_openat(this.ex.sqes, this.sqe(this.freeing(p)), dirfd, p.addr, flags, mode);
    return this;
  }

  /** Opens into direct descriptor `slot` of the registered file table. */
  openat_direct(dirfd: number, path: string | Uint8Array, flags: number, mode: number, slot: number): this {
    const p = this.path(path);
    prep.prep_openat_direct(this.ex.sqes, this.sqe(this.freeing(p)), dirfd, p.addr, flags, mode, slot);
    return this;
  }

  openat2(dirfd: number, path: string | Uint8Array, how: { flags: number; mode?: number; resolve?: number }): this {
    const p = this.path(path);
    const h = this.chunk(abi.OPEN_HOW.size, 8);
    const w = new Uint32Array(h.region.sab, h.region.bytes.byteOffset + h.offset, 6);
    prep.setU64(w, 0, how.flags);
    prep.setU64(w, 2, how.mode ?? 0);
    prep.setU64(w, 4, how.resolve ?? 0);
    prep.prep_openat2(this.ex.sqes, this.sqe(this.freeing(p, h)), dirfd, p.addr, h.addr);
    return this;
  }

  close(fd: number): this {
    prep.prep_close(this.ex.sqes, this.sqe(), fd);
    return this;
  }

  close_direct(slot: number): this {
    prep.prep_close_direct(this.ex.sqes, this.sqe(), slot);
    return this;
  }

  /** statx(2); the member's value is a Statx on success. */
  statx(dirfd: number, path: string | Uint8Array, flags = 0, mask = abi.STATX_BASIC_STATS | abi.STATX_BTIME): this {
    const p = this.path(path);
    const buf = this.chunk(abi.STATX.size, 8);
    const at = this.sqe((res) => {
      const out = res === 0 ? parseStatx(buf.view(abi.STATX.size)) : res;
      this.free(p);
      this.free(buf);
      return out;
    });
    prep.prep_statx(this.ex.sqes, at, dirfd, p.addr, flags, mask, buf.addr);
    return this;
  }

  fallocate(fd: number, mode: number, offset: number, len: number): this {
    prep.prep_fallocate(this.ex.sqes, this.sqe(), fd, mode, offset, len);
    return this;
  }

  fadvise(fd: number, offset: number, len: number, advice: number): this {
    prep.prep_fadvise(this.ex.sqes, this.sqe(), fd, offset, len, advice);
    return this;
  }

  /** madvise(2) on pool memory (the only memory whose address is stable to us). */
  madvise(chunk: Chunk, len: number, advice: number): this {
    this.job.hold(chunk);
    prep.prep_madvise(this.ex.sqes, this.sqe(), chunk.addr, len, advice);
    return this;
  }

  unlinkat(dirfd: number, path: string | Uint8Array, flags = 0): this {
    const p = this.path(path);
    prep.prep_unlinkat(this.ex.sqes, this.sqe(this.freeing(p)), dirfd, p.addr, flags);
    return this;
  }

  renameat(olddirfd: number, oldpath: string | Uint8Array, newdirfd: number, newpath: string | Uint8Array, flags = 0): this {
    const a = this.path(oldpath);
    const b = this.path(newpath);
    prep.prep_renameat(this.ex.sqes, this.sqe(this.freeing(a, b)), olddirfd, a.addr, newdirfd, b.addr, flags);
    return this;
  }

  mkdirat(dirfd: number, path: string | Uint8Array, mode = 0o777): this {
    const p = this.path(path);
    prep.prep_mkdirat(this.ex.sqes, this.sqe(this.freeing(p)), dirfd, p.addr, mode);
    return this;
  }

  symlinkat(target: string | Uint8Array, newdirfd: number, linkpath: string | Uint8Array): this {
    const a = this.path(target);
    const b = this.path(linkpath);
    prep.prep_symlinkat(this.ex.sqes, this.sqe(this.freeing(a, b)), a.addr, newdirfd, b.addr);
    return this;
  }

  linkat(olddirfd: number, oldpath: string | Uint8Array, newdirfd: number, newpath: string | Uint8Array, flags = 0): this {
    const a = this.path(oldpath);
    const b = this.path(newpath);
    prep.prep_linkat(this.ex.sqes, this.sqe(this.freeing(a, b)), olddirfd, a.addr, newdirfd, b.addr, flags);
    return this;
  }

  ftruncate(fd: number, len: number): this {
    prep.prep_ftruncate(this.ex.sqes, this.sqe(), fd, len);
    return this;
  }

  splice(fdIn: number, offIn: number, fdOut: number, offOut: number, nbytes: number, flags = 0): this {
    prep.prep_splice(this.ex.sqes, this.sqe(), fdIn, offIn, fdOut, offOut, nbytes, flags);
    return this;
  }

  tee(fdIn: number, fdOut: number, nbytes: number, flags = 0): this {
    prep.prep_tee(this.ex.sqes, this.sqe(), fdIn, fdOut, nbytes, flags);
    return this;
  }

  private timespec(ms: number): Chunk {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw uringError('ERR_OUT_OF_RANGE', `timeout must be a finite number of ms >= 0, got ${ms}`);
    const ts = this.chunk(abi.TIMESPEC.size, 8);
    const w = new Uint32Array(ts.region.sab, ts.region.bytes.byteOffset + ts.offset, 4);
    prep.setU64(w, 0, Math.floor(ms / 1000));
    prep.setU64(w, 2, Math.round((ms % 1000) * 1e6));
    return ts;
  }

  /** A timeout of `ms`; its value is 0 whether it fired (-ETIME) or `count` completions passed. */
  timeout(ms: number, count = 0, flags = 0): this {
    const ts = this.timespec(ms);
    const at = this.sqe((res) => {
      this.free(ts);
      return res === -ETIME ? 0 : res;
    });
    prep.prep_timeout(this.ex.sqes, at, ts.addr, count, flags);
    return this;
  }

  /** Cancels the op behind `target` (a promise this ring returned) if it is a timeout. */
  timeout_remove(target: Promise<unknown>, flags = 0): this {
    const [lo, hi] = this.ring.tagOf(target);
    prep.prep_timeout_remove(this.ex.sqes, this.sqe(), lo, hi, flags);
    return this;
  }

  /** Bounds the SQE written just before this one by `ms` (IORING_OP_LINK_TIMEOUT). */
  link_timeout(ms: number, flags = 0): this {
    const ts = this.timespec(ms);
    const at = this.sqe((res) => {
      this.free(ts);
      return res;
    });
    prep.prep_link_timeout(this.ex.sqes, at, ts.addr, flags);
    return this;
  }

  /** IORING_OP_ASYNC_CANCEL for the op behind `target`. */
  cancel(target: Promise<unknown>, flags = 0): this {
    const [lo, hi] = this.ring.tagOf(target);
    prep.prep_cancel(this.ex.sqes, this.sqe(), lo, hi, flags);
    return this;
  }

  /** Cancels ops on `fd` (IORING_ASYNC_CANCEL_FD; add IORING_ASYNC_CANCEL_ALL for all). */
  cancel_fd(fd: number, flags = 0): this {
    prep.prep_cancel_fd(this.ex.sqes, this.sqe(), fd, flags);
    return this;
  }

  /** One-shot poll; the value is the ready mask (POLLIN, ...). */
  poll_add(fd: number, mask: number): this {
    prep.prep_poll_add(this.ex.sqes, this.sqe(), fd, mask);
    return this;
  }

  poll_remove(target: Promise<unknown>): this {
    const [lo, hi] = this.ring.tagOf(target);
    prep.prep_poll_remove(this.ex.sqes, this.sqe(), lo, hi);
    return this;
  }

  /** Updates registered file slots [offset, offset + fds.length) to `fds` (-1 clears). */
  files_update(fds: number[], offset: number): this {
    const c = this.chunk(fds.length * 4, 4);
    new Int32Array(c.region.sab, c.region.bytes.byteOffset + c.offset, fds.length).set(fds);
    prep.prep_files_update(this.ex.sqes, this.sqe(this.freeing(c)), c.addr, fds.length, offset);
    return this;
  }
}

/** A linked chain under construction: add ops, then submit(). */
export class Chain extends SqeWriter {
  /** Submits the chain; resolves with each member's value (a result, or -errno). */
  submit(opts: { hard?: boolean } = {}): Promise<unknown[]> {
    return this.seal(opts.hard ?? false);
  }

  /** @internal */
  seal(hard: boolean): Promise<unknown[]> {
    const after = this.after;
    this.job.done = (job) => job.res.map((res, k) => (after[k] ? after[k]!(res, job.settled) : res));
    return this.ringOf().executor.commit<unknown[]>(this.job, hard);
  }

  private ringOf(): Ring {
    return (this as unknown as { ring: Ring }).ring;
  }
}

export class Ring {
  /** @internal */ readonly executor: Executor;
  readonly backend: Backend;
  readonly pool: BufferPool;
  private readonly w: SqeWriter;
  private registered = false;

  constructor(opts: RingOptions = {}) {
    this.backend = openBackend(opts);
    this.pool = new BufferPool({ addressOf: this.backend.addressOf });
    this.pool.onRegion = (r) => this.backend.attachRegion(r);
    this.executor = new Executor(this.backend);
    this.w = new SqeWriter(this);
  }

  /** Kernel features and setup flags in force, and which opcodes the kernel has. */
  get features(): number {
    return this.backend.features;
  }

  get setupFlags(): number {
    return this.backend.setupFlags;
  }

  supports(opcode: number): boolean {
    return this.backend.supports(opcode);
  }

  stats(): ExecutorStats {
    return this.executor.stats();
  }

  /** Starts a linked chain. Ops in it run in order; a failure cancels the rest (unless hard). */
  chain(): Chain {
    const c = new Chain(this);
    c.job = this.executor.begin('chain');
    return c;
  }

  /** Submits what is queued now rather than at the end of this turn. */
  submit(): void {
    this.executor.flush();
  }

  /** Cancels in-flight ops, rejects their promises with ERR_URING_CLOSED, then unmaps. */
  close(): Promise<void> {
    return this.executor.close();
  }

  /** Registers the pool's regions as fixed buffers (buf_index = region id). */
  registerPool(): void {
    const regions = this.pool.regions;
    const iov = new Uint32Array(regions.length * 4);
    regions.forEach((r, i) => {
      prep.setU64(iov, i * 4, r.addr);
      prep.setU64(iov, i * 4 + 2, r.bytes.byteLength);
    });
    if (this.registered) this.backend.register(abi.IORING_UNREGISTER_BUFFERS, null, 0);
    const ret = this.backend.register(abi.IORING_REGISTER_BUFFERS, iov, regions.length);
    if (ret < 0) throw errnoError(ret, 'io_uring_register');
    this.registered = true;
  }

  /** @internal */
  bufIndex(chunk: Chunk): number {
    if (!this.registered || chunk.region.id >= this.pool.regions.length) this.registerPool();
    return chunk.region.id;
  }

  /** Registers a sparse table of `n` direct descriptor slots. */
  registerFilesSparse(n: number): void {
    const reg = new Uint32Array(abi.RSRC_REGISTER.size / 4);
    reg[0] = n;
    reg[1] = abi.IORING_RSRC_REGISTER_SPARSE;
    const ret = this.backend.register(abi.IORING_REGISTER_FILES2, reg, abi.RSRC_REGISTER.size);
    if (ret < 0) throw errnoError(ret, 'io_uring_register');
  }

  /** @internal The tag of the op behind a promise this ring returned. */
  tagOf(p: Promise<unknown>): [number, number] {
    const job = (p as Tagged)[kJob];
    if (!job) throw uringError('ERR_INVALID_ARG_VALUE', 'target is not a pending operation of this ring');
    const slot = job.slot;
    const gens = (this.executor as unknown as { gens: Uint32Array }).gens;
    return [slot, job.finished ? (gens[slot]! + 1) >>> 0 : gens[slot]!];
  }

  private one(syscall: string): SqeWriter {
    const w = this.w;
    w.job = this.executor.begin(syscall);
    w.after = [];
    return w;
  }

  private commit<T>(): Promise<T> {
    const w = this.w;
    const job = w.job;
    const after = w.after[0];
    if (after) {
      job.done = (j) => {
        const v = after(j.res[0]!, j.settled);
        if (typeof v === 'number' && v < 0) throw errnoError(v, j.syscall, j.path, j.dest);
        return v;
      };
    }
    const p = this.executor.commit<T>(job);
    (p as Tagged)[kJob] = job;
    return p;
  }

  private run<T>(syscall: string, write: (w: SqeWriter) => void, path?: string, dest?: string): Promise<T> {
    const w = this.one(syscall);
    w.job.path = path;
    w.job.dest = dest;
    try {
      write(w);
    } catch (e) {
      this.executor.discard(w.job);
      return Promise.reject(e);
    }
    return this.commit<T>();
  }

  nop(): Promise<number> {
    const ex = this.executor;
    const job = ex.begin('nop');
    prep.prep_nop(ex.sqes, ex.add(job));
    return ex.commit<number>(job);
  }

  read(fd: number, buffer: ArrayBufferView, position = -1): Promise<number> {
    return this.run('read', (w) => w.read(fd, buffer, position));
  }
  write(fd: number, buffer: ArrayBufferView, position = -1): Promise<number> {
    return this.run('write', (w) => w.write(fd, buffer, position));
  }
  readv(fd: number, buffers: ArrayBufferView[], position = -1): Promise<number> {
    return this.run('readv', (w) => w.readv(fd, buffers, position));
  }
  writev(fd: number, buffers: ArrayBufferView[], position = -1): Promise<number> {
    return this.run('writev', (w) => w.writev(fd, buffers, position));
  }
  read_fixed(fd: number, chunk: Chunk, len: number, position = -1): Promise<number> {
    return this.run('read', (w) => w.read_fixed(fd, chunk, len, position));
  }
  write_fixed(fd: number, chunk: Chunk, len: number, position = -1): Promise<number> {
    return this.run('write', (w) => w.write_fixed(fd, chunk, len, position));
  }
  fsync(fd: number, datasync = false): Promise<number> {
    return this.run(datasync ? 'fdatasync' : 'fsync', (w) => w.fsync(fd, datasync));
  }
  sync_file_range(fd: number, offset: number, len: number, flags = 0): Promise<number> {
    return this.run('sync_file_range', (w) => w.sync_file_range(fd, offset, len, flags));
  }
  openat(dirfd: number, path: string, flags: number, mode = 0o666): Promise<number> {
    return this.run('open', (w) => w.openat(dirfd, path, flags, mode), path);
  }
  openat_direct(dirfd: number, path: string, flags: number, mode: number, slot: number): Promise<number> {
    return this.run('open', (w) => w.openat_direct(dirfd, path, flags, mode, slot), path);
  }
  openat2(dirfd: number, path: string, how: { flags: number; mode?: number; resolve?: number }): Promise<number> {
    return this.run('openat2', (w) => w.openat2(dirfd, path, how), path);
  }
  close_fd(fd: number): Promise<number> {
    return this.run('close', (w) => w.close(fd));
  }
  close_direct(slot: number): Promise<number> {
    return this.run('close', (w) => w.close_direct(slot));
  }
  statx(dirfd: number, path: string, flags = 0, mask = abi.STATX_BASIC_STATS | abi.STATX_BTIME): Promise<Statx> {
    return this.run('statx', (w) => w.statx(dirfd, path, flags, mask), path);
  }
  fallocate(fd: number, mode: number, offset: number, len: number): Promise<number> {
    return this.run('fallocate', (w) => w.fallocate(fd, mode, offset, len));
  }
  fadvise(fd: number, offset: number, len: number, advice: number): Promise<number> {
    return this.run('fadvise', (w) => w.fadvise(fd, offset, len, advice));
  }
  madvise(chunk: Chunk, len: number, advice: number): Promise<number> {
    return this.run('madvise', (w) => w.madvise(chunk, len, advice));
  }
  unlinkat(dirfd: number, path: string, flags = 0): Promise<number> {
    return this.run(flags & abi.AT_REMOVEDIR ? 'rmdir' : 'unlink', (w) => w.unlinkat(dirfd, path, flags), path);
  }
  renameat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags = 0): Promise<number> {
    return this.run('rename', (w) => w.renameat(olddirfd, oldpath, newdirfd, newpath, flags), oldpath, newpath);
  }
  mkdirat(dirfd: number, path: string, mode = 0o777): Promise<number> {
    return this.run('mkdir', (w) => w.mkdirat(dirfd, path, mode), path);
  }
  symlinkat(target: string, newdirfd: number, linkpath: string): Promise<number> {
    return this.run('symlink', (w) => w.symlinkat(target, newdirfd, linkpath), target, linkpath);
  }
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags = 0): Promise<number> {
    return this.run('link', (w) => w.linkat(olddirfd, oldpath, newdirfd, newpath, flags), oldpath, newpath);
  }
  ftruncate(fd: number, len: number): Promise<number> {
    return this.run('ftruncate', (w) => w.ftruncate(fd, len));
  }
  splice(fdIn: number, offIn: number, fdOut: number, offOut: number, nbytes: number, flags = 0): Promise<number> {
    return this.run('splice', (w) => w.splice(fdIn, offIn, fdOut, offOut, nbytes, flags));
  }
  tee(fdIn: number, fdOut: number, nbytes: number, flags = 0): Promise<number> {
    return this.run('tee', (w) => w.tee(fdIn, fdOut, nbytes, flags));
  }
  timeout(ms: number, count = 0, flags = 0): Promise<number> {
    return this.run('timeout', (w) => w.timeout(ms, count, flags));
  }
  timeout_remove(target: Promise<unknown>, flags = 0): Promise<number> {
    return this.run('timeout_remove', (w) => w.timeout_remove(target, flags));
  }
  cancel(target: Promise<unknown>, flags = 0): Promise<number> {
    return this.run('cancel', (w) => w.cancel(target, flags));
  }
  cancel_fd(fd: number, flags = 0): Promise<number> {
    return this.run('cancel', (w) => w.cancel_fd(fd, flags));
  }
  poll_add(fd: number, mask: number): Promise<number> {
    return this.run('poll', (w) => w.poll_add(fd, mask));
  }
  poll_remove(target: Promise<unknown>): Promise<number> {
    return this.run('poll_remove', (w) => w.poll_remove(target));
  }
  files_update(fds: number[], offset: number): Promise<number> {
    return this.run('files_update', (w) => w.files_update(fds, offset));
  }

}
