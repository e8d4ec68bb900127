// The SQE writer: one method per io_uring op, named after liburing's
// io_uring_prep_*, each queueing one SQE into a job. Ring's own methods use
// it for single ops; a Chain (chain.ts) replays its recorded ops into one.
//
// Ownership: the kernel only ever sees pool memory. Buffers you pass are
// copied into a pool chunk on submit (writes) or out of one on completion
// (reads), so detaching, transferring, resizing or dropping your buffer
// mid-flight is harmless (S1), and an abandoned read never writes into your
// buffer after you stopped waiting (S2).

import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import type { Executor, Job } from '../executor/executor.js';
import type { BufferPool, Chunk } from '../buffers/pool.js';
import { fixedChunk, fixedLength, pinFixed, unpinFixed, type FixedBuffer } from '../buffers/lease.js';
import { uringError } from '../errors.js';
import { parseStatx } from '../abi/statx.js';

const ETIME = 62;

/** Descriptors are C ints: reject what the SQE's s32 field would silently wrap. */
function int32(v: number, name: string): void {
  if ((v | 0) === v) return;
  const err = new RangeError(`The value of "${name}" is out of range. It must be an integer between -2147483648 and 2147483647. Received ${v}`) as RangeError & { code: string };
  err.code = 'ERR_OUT_OF_RANGE';
  throw err;
}
const encoder = new TextEncoder();

/** A path's bytes, refused when they hold a NUL (as node:fs refuses them). */
function pathBytes(path: string | Uint8Array): Uint8Array {
  const bytes = typeof path === 'string' ? encoder.encode(path) : path;
  if (bytes.includes(0)) throw uringError('ERR_INVALID_ARG_VALUE', 'paths must not contain null bytes');
  return bytes;
}

/** Per-SQE completion hook: frees and copies out; returns the member's value. */
export type After = (res: number, abandoned: boolean) => unknown;

/**
 * What a writer needs from its ring, and no more: the executor it stages
 * into, the pool its bounce buffers come from, and the tags of the ring's
 * ops (for cancel and timeout_remove). Ring implements it.
 */
export interface WriterHost {
  readonly executor: Executor;
  readonly pool: BufferPool;
  tagOf(p: Promise<unknown>): [number, number];
}

/**
 * Writes SQEs into one job. Internal: Ring's methods use one for single
 * ops, and a Chain replays its recorded ops into one on submit().
 */
export class SqeWriter {
  /** @internal */ job!: Job;
  /** @internal */ after: (After | null)[] = [];

  /** @internal */
  constructor(private readonly ring: WriterHost) {}

  private get ex(): Executor {
    return this.ring.executor;
  }

  /**
   * Stages one SQE and returns its word index. Call it before reading
   * `this.ex.sqes`: staging may grow into a new array, and an SQE written
   * into the old one would be lost (it would run as a NOP, result 0).
   */
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
    return this.copyPath(pathBytes(path));
  }

  /** Two paths, both checked before either takes pool memory (a bad second path must not leak the first). */
  private paths(a: string | Uint8Array, b: string | Uint8Array): [Chunk, Chunk] {
    const ba = pathBytes(a);
    const bb = pathBytes(b);
    return [this.copyPath(ba), this.copyPath(bb)];
  }

  private copyPath(bytes: Uint8Array): Chunk {
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
    const at = this.ex.lastSqe();
    prep.sqe_set_flags(this.ex.sqes, at, prep.sqe_get_flags(this.ex.sqes, at) | f);
    return this;
  }

  nop(): this {
    const at = this.sqe();
    prep.prep_nop(this.ex.sqes, at);
    return this;
  }

  /** Reads up to buffer.byteLength bytes at `position` (-1: the file position). */
  read(fd: number, buffer: ArrayBufferView, position = -1): this {
    int32(fd, 'fd');
    const len = buffer.byteLength;
    const c = this.chunk(len);
    const target = new Uint8Array(buffer.buffer, buffer.byteOffset, len);
    const at = this.sqe((res, abandoned) => {
      // A detached or shrunk target has a smaller byteLength now: never
      // write past what it still has, and never after abandonment (S2).
      // (A detached view throws on set(), even of nothing: check first.)
      const n = res > 0 && !abandoned ? Math.min(res, target.byteLength) : 0;
      try {
        if (n > 0) target.set(c.copyView(n));
      } finally {
        this.free(c);
      }
      return res > len ? -5 /* EIO: a peer claimed more than we asked */ : res;
    });
    prep.prep_read(this.ex.sqes, at, fd, c.addr, len, position);
    return this;
  }

  /** Writes buffer's bytes at `position` (-1: the file position). */
  write(fd: number, buffer: ArrayBufferView, position = -1): this {
    int32(fd, 'fd');
    const len = buffer.byteLength;
    const c = this.chunk(len);
    c.copyView(len).set(new Uint8Array(buffer.buffer, buffer.byteOffset, len));
    const at = this.sqe(this.freeing(c));
    prep.prep_write(this.ex.sqes, at, fd, c.addr, len, position);
    return this;
  }

  /** Vectored read into `buffers`, filled in order. */
  readv(fd: number, buffers: ArrayBufferView[], position = -1): this {
    int32(fd, 'fd');
    const { iov, chunks, total } = this.iovecs(buffers, false);
    const at = this.sqe((res, abandoned) => {
      let left = abandoned ? 0 : Math.min(res, total);
      buffers.forEach((b, i) => {
        const n = Math.min(left, b.byteLength);
        if (n > 0) new Uint8Array(b.buffer, b.byteOffset, n).set(chunks[i]!.copyView(n));
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
    int32(fd, 'fd');
    const { iov, chunks } = this.iovecs(buffers, true);
    const at = this.sqe(this.freeing(iov, ...chunks));
    prep.prep_writev(this.ex.sqes, at, fd, iov.addr, buffers.length, position);
    return this;
  }

  private iovecs(buffers: ArrayBufferView[], copyIn: boolean): { iov: Chunk; chunks: Chunk[]; total: number } {
    const iov = this.chunk(buffers.length * abi.IOVEC.size, 8);
    const words = new Uint32Array(iov.region.sab, iov.region.bytes.byteOffset + iov.offset, buffers.length * 4);
    const chunks: Chunk[] = [];
    let total = 0;
    buffers.forEach((b, i) => {
      const c = this.chunk(b.byteLength);
      if (copyIn) c.copyView(b.byteLength).set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      chunks.push(c);
      prep.setU64(words, i * 4, c.addr);
      prep.setU64(words, i * 4 + 2, b.byteLength);
      total += b.byteLength;
    });
    return { iov, chunks, total };
  }

  /**
   * Reads into pool memory (a chunk of ring.pool or a lease from it): no
   * copy. READ_FIXED when the pool registered the region, else a plain READ
   * on the same memory. The chunk is pinned until the completion: freeing
   * or releasing it meanwhile is deferred (S1).
   */
  read_fixed(fd: number, buf: FixedBuffer, len: number, position = -1): this {
    int32(fd, 'fd');
    return this.fixed(fd, buf, len, position, false);
  }

  /** Writes from pool memory (a chunk or a lease): no copy. See read_fixed. */
  write_fixed(fd: number, buf: FixedBuffer, len: number, position = -1): this {
    int32(fd, 'fd');
    return this.fixed(fd, buf, len, position, true);
  }

  private fixed(fd: number, buf: FixedBuffer, len: number, position: number, write: boolean): this {
    // Everything that can throw comes before the pin: a throw leaks nothing.
    const chunk = fixedChunk(buf);
    const n = fixedLength(buf, len);
    const index = this.ring.pool.bufIndex(chunk);
    pinFixed(buf, chunk, n, write);
    const at = this.sqe((res, abandoned) => {
      unpinFixed(buf, chunk, res, write, abandoned);
      return res;
    });
    const s = this.ex.sqes;
    if (index >= 0) {
      if (write) prep.prep_write_fixed(s, at, fd, chunk.addr, n, position, index);
      else prep.prep_read_fixed(s, at, fd, chunk.addr, n, position, index);
    } else if (write) prep.prep_write(s, at, fd, chunk.addr, n, position);
    else prep.prep_read(s, at, fd, chunk.addr, n, position);
    return this;
  }

  fsync(fd: number, datasync = false): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_fsync(this.ex.sqes, at, fd, datasync ? abi.IORING_FSYNC_DATASYNC : 0);
    return this;
  }

  sync_file_range(fd: number, offset: number, len: number, flags = 0): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_sync_file_range(this.ex.sqes, at, fd, len, offset, flags);
    return this;
  }

  openat(dirfd: number, path: string | Uint8Array, flags: number, mode = 0o666): this {
    int32(dirfd, 'dirfd');
    const p = this.path(path);
    const at = this.sqe(this.freeing(p));
    prep.prep_openat(this.ex.sqes, at, dirfd, p.addr, flags, mode);
    return this;
  }

  /** Opens into direct descriptor `slot` of the registered file table. */
  openat_direct(dirfd: number, path: string | Uint8Array, flags: number, mode: number, slot: number): this {
    int32(dirfd, 'dirfd');
    const p = this.path(path);
    const at = this.sqe(this.freeing(p));
    prep.prep_openat_direct(this.ex.sqes, at, dirfd, p.addr, flags, mode, slot);
    return this;
  }

  openat2(dirfd: number, path: string | Uint8Array, how: { flags: number; mode?: number; resolve?: number }): this {
    const p = this.path(path);
    const h = this.chunk(abi.OPEN_HOW.size, 8);
    const w = new Uint32Array(h.region.sab, h.region.bytes.byteOffset + h.offset, 6);
    prep.setU64(w, 0, how.flags);
    prep.setU64(w, 2, how.mode ?? 0);
    prep.setU64(w, 4, how.resolve ?? 0);
    const at = this.sqe(this.freeing(p, h));
    prep.prep_openat2(this.ex.sqes, at, dirfd, p.addr, h.addr);
    return this;
  }

  close(fd: number): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_close(this.ex.sqes, at, fd);
    return this;
  }

  close_direct(slot: number): this {
    const at = this.sqe();
    prep.prep_close_direct(this.ex.sqes, at, slot);
    return this;
  }

  /** statx(2); the member's value is a Statx on success. */
  statx(dirfd: number, path: string | Uint8Array, flags = 0, mask = abi.STATX_BASIC_STATS | abi.STATX_BTIME): this {
    int32(dirfd, 'dirfd');
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
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_fallocate(this.ex.sqes, at, fd, mode, offset, len);
    return this;
  }

  fadvise(fd: number, offset: number, len: number, advice: number): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_fadvise(this.ex.sqes, at, fd, offset, len, advice);
    return this;
  }

  /** madvise(2) on pool memory (the only memory whose address is stable to us). */
  madvise(chunk: Chunk, len: number, advice: number): this {
    this.job.hold(chunk);
    const at = this.sqe();
    prep.prep_madvise(this.ex.sqes, at, chunk.addr, len, advice);
    return this;
  }

  unlinkat(dirfd: number, path: string | Uint8Array, flags = 0): this {
    int32(dirfd, 'dirfd');
    const p = this.path(path);
    const at = this.sqe(this.freeing(p));
    prep.prep_unlinkat(this.ex.sqes, at, dirfd, p.addr, flags);
    return this;
  }

  renameat(olddirfd: number, oldpath: string | Uint8Array, newdirfd: number, newpath: string | Uint8Array, flags = 0): this {
    int32(olddirfd, 'olddirfd'); int32(newdirfd, 'newdirfd');
    const [a, b] = this.paths(oldpath, newpath);
    const at = this.sqe(this.freeing(a, b));
    prep.prep_renameat(this.ex.sqes, at, olddirfd, a.addr, newdirfd, b.addr, flags);
    return this;
  }

  mkdirat(dirfd: number, path: string | Uint8Array, mode = 0o777): this {
    int32(dirfd, 'dirfd');
    const p = this.path(path);
    const at = this.sqe(this.freeing(p));
    prep.prep_mkdirat(this.ex.sqes, at, dirfd, p.addr, mode);
    return this;
  }

  symlinkat(target: string | Uint8Array, newdirfd: number, linkpath: string | Uint8Array): this {
    int32(newdirfd, 'newdirfd');
    const [a, b] = this.paths(target, linkpath);
    const at = this.sqe(this.freeing(a, b));
    prep.prep_symlinkat(this.ex.sqes, at, a.addr, newdirfd, b.addr);
    return this;
  }

  linkat(olddirfd: number, oldpath: string | Uint8Array, newdirfd: number, newpath: string | Uint8Array, flags = 0): this {
    int32(olddirfd, 'olddirfd'); int32(newdirfd, 'newdirfd');
    const [a, b] = this.paths(oldpath, newpath);
    const at = this.sqe(this.freeing(a, b));
    prep.prep_linkat(this.ex.sqes, at, olddirfd, a.addr, newdirfd, b.addr, flags);
    return this;
  }

  ftruncate(fd: number, len: number): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_ftruncate(this.ex.sqes, at, fd, len);
    return this;
  }

  splice(fdIn: number, offIn: number, fdOut: number, offOut: number, nbytes: number, flags = 0): this {
    int32(fdIn, 'fdIn'); int32(fdOut, 'fdOut');
    const at = this.sqe();
    prep.prep_splice(this.ex.sqes, at, fdIn, offIn, fdOut, offOut, nbytes, flags);
    return this;
  }

  tee(fdIn: number, fdOut: number, nbytes: number, flags = 0): this {
    int32(fdIn, 'fdIn'); int32(fdOut, 'fdOut');
    const at = this.sqe();
    prep.prep_tee(this.ex.sqes, at, fdIn, fdOut, nbytes, flags);
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
    const at = this.sqe();
    prep.prep_timeout_remove(this.ex.sqes, at, lo, hi, flags);
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
    const at = this.sqe();
    prep.prep_cancel(this.ex.sqes, at, lo, hi, flags);
    return this;
  }

  /** Cancels ops on `fd` (IORING_ASYNC_CANCEL_FD; add IORING_ASYNC_CANCEL_ALL for all). */
  cancel_fd(fd: number, flags = 0): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_cancel_fd(this.ex.sqes, at, fd, flags);
    return this;
  }

  /** One-shot poll; the value is the ready mask (POLLIN, ...). */
  poll_add(fd: number, mask: number): this {
    int32(fd, 'fd');
    const at = this.sqe();
    prep.prep_poll_add(this.ex.sqes, at, fd, mask);
    return this;
  }

  poll_remove(target: Promise<unknown>): this {
    const [lo, hi] = this.ring.tagOf(target);
    const at = this.sqe();
    prep.prep_poll_remove(this.ex.sqes, at, lo, hi);
    return this;
  }

  /** Updates registered file slots [offset, offset + fds.length) to `fds` (-1 clears). */
  files_update(fds: number[], offset: number): this {
    const c = this.chunk(fds.length * 4, 4);
    new Int32Array(c.region.sab, c.region.bytes.byteOffset + c.offset, fds.length).set(fds);
    const at = this.sqe(this.freeing(c));
    prep.prep_files_update(this.ex.sqes, at, c.addr, fds.length, offset);
    return this;
  }
}
