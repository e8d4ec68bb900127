// The low-level public API: a ring, and one method per io_uring op, named
// after liburing's io_uring_prep_*. Each method queues one SQE (through the
// SqeWriter in writer.ts); everything queued in one event-loop turn goes to
// the kernel in one enter. For zero copies, use the *_fixed ops with memory
// from `ring.pool`.

import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import { Executor, Job, type ExecutorStats } from '../executor/executor.js';
import { openBackend, type BackendOptions } from './select.js';
import type { Backend } from '../queues/backend.js';
import { BufferPool, Chunk, type PoolOptions, type FixedBuffer } from '../buffers/pool.js';
import { errnoError, uringError, closedError } from '../errors.js';
import type { Statx } from '../abi/statx.js';
import { SqeWriter } from './writer.js';
import { Chain } from './chain.js';

export type { Statx };
export interface RingOptions extends BackendOptions {
  /** Buffer pool sizing and fixed-buffer registration (ring.pool). */
  pool?: Omit<PoolOptions, 'addressOf'>;
}
const EBADF = -9;

/** Links an op's promise to its job, for cancel(), timeout_remove(), poll_remove(). */
const kJob = Symbol('uring.job');
type Tagged = Promise<unknown> & { [kJob]?: Job };

export class Ring {
  /**
   * The executor this ring submits through. Public for the layers built on
   * a ring (fs, sockets): they stage their own jobs (linked chains, state on
   * a Job subclass) and share the ring's batching, tags and teardown.
   */
  readonly executor: Executor;
  readonly backend: Backend;
  readonly pool: BufferPool;
  private readonly w: SqeWriter;

  constructor(opts: RingOptions = {}) {
    this.backend = openBackend(opts);
    this.pool = new BufferPool({ ...opts.pool, addressOf: this.backend.addressOf });
    this.pool.onRegion = (r) => this.backend.attachRegion(r);
    // The pool registers regions lazily, on their first fixed op; a closing
    // ring's table is torn down by the kernel, so late calls just get EBADF.
    const backend = this.backend;
    this.pool.attach({
      register: (op, arg, nr) => (this.executor.closed ? EBADF : backend.register(op, arg, nr)),
      addressOf: backend.addressOf,
    });
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
    return new Chain(this);
  }

  /** Submits what is queued now rather than at the end of this turn. */
  submit(): void {
    this.executor.flush();
  }

  /** Cancels in-flight ops, rejects their promises with ERR_URING_CLOSED, then unmaps. */
  close(): Promise<void> {
    return this.executor.close();
  }

  /**
   * Registers every pool region as a fixed buffer now, instead of on first
   * use. Throws the registration error (ERR_URING_MEMLOCK explains
   * RLIMIT_MEMLOCK) where the lazy path would warn and fall back. Returns
   * false where fixed buffers do not apply (worker backend, pool.fixed false).
   */
  registerPool(): boolean {
    return this.pool.registerAll();
  }

  /** @internal buf_index of a chunk's region, or -1 (use a plain op). No syscall per op. */
  bufIndex(chunk: Chunk): number {
    return this.pool.bufIndex(chunk);
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
    // A finished job's slot has moved on to a new generation: hand out a tag
    // that matches nothing, so cancelling a finished op gets -ENOENT.
    const gen = this.executor.generation(job.slot);
    return [job.slot, job.finished ? (gen + 1) >>> 0 : gen];
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
    // An op on a closed ring rejects; it never throws synchronously.
    if (this.executor.closed) return Promise.reject(closedError());
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
    if (ex.closed) return Promise.reject(closedError());
    const job = ex.begin('nop');
    const at = ex.add(job); // before reading ex.sqes: add() may grow staging
    prep.prep_nop(ex.sqes, at);
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
  read_fixed(fd: number, buf: FixedBuffer, len: number, position = -1): Promise<number> {
    return this.run('read', (w) => w.read_fixed(fd, buf, len, position));
  }
  write_fixed(fd: number, buf: FixedBuffer, len: number, position = -1): Promise<number> {
    return this.run('write', (w) => w.write_fixed(fd, buf, len, position));
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
