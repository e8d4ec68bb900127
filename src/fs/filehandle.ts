// FileHandle: node:fs/promises's FileHandle on the ring. Same methods,
// argument handling, result objects ({ __proto__: null, bytesRead, buffer }),
// reference counting (close() waits for the handle's ops in flight) and
// errors ("file closed" EBADF after close).
//
// read() is the hot path (W1): one SQE, a Job subclass carrying the op's
// state (no closure per op), a pooled 4 KiB chunk, and a copy into the
// caller's buffer at completion if that buffer still has room (S1: a
// detached or shrunk buffer just gets fewer bytes, never a stray write).
//
// This file is the handle's state (descriptor, references, fixed-file slot)
// and its ops; node's argument rules are in handle-args.ts, and the pieces
// that need no private state (read()'s job and completion, the result
// objects, the fs shim under its streams) in handle-io.ts.

import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { createInterface, type Interface } from 'node:readline';
import { AsyncResource } from 'node:async_hooks';
import type { ReadableStream } from 'node:stream/web';
import { byteStream, checkStreamType } from './webstream.js';
import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import { errnoError } from '../errors.js';
import { type FsRuntime, withBig, BIG_OP } from './runtime.js';
import { fileClosedError, ERR_INVALID_STATE } from './errors.js';
import { isArrayBufferView, validateInteger, validateBufferArray, readPosition, fastPosition, ringPosition } from './validate.js';
import { statsFrom } from './stats.js';
import { readLoop } from './readfile.js';
import { readArgs, writeArgs, writePosition } from './handle-args.js';
import { kUnref, ReadJob, readDone, readResult, fsRead, scatter, gather, streamOps, type ReadResult, type WriteResult } from './handle-io.js';

export type { ReadResult, WriteResult };

/** #slot states (>= 0: a registered slot). */
const SLOT_NONE = -1;
const SLOT_PENDING = -2;
const SLOT_FAILED = -3;
const READ_FLAGS = abi.IOSQE_FIXED_FILE; // IOSQE_ASYNC measured: 40% slower on W1 (io-wq hand-off per 4 KiB read)
/** Reads on a handle before its file is registered in the fixed table. */
const FIXED_AFTER = 16;
/** Reads and writes larger than this are split (bounded pool use). */
const MAX_IO = 64 << 20;
const SymbolAsyncDispose: symbol = (Symbol as unknown as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for('nodejs.asyncDispose');

const fchmod = promisify(fs.fchmod);
const fchown = promisify(fs.fchown);
const futimes = promisify(fs.futimes);

const registry = new FinalizationRegistry<number>((fd) => {
  // Like node: a FileHandle collected while open has its fd closed.
  process.emitWarning(`Closing file descriptor ${fd} on garbage collection`, 'Warning');
  fs.close(fd, () => {});
});

export class FileHandle extends EventEmitter {
  /** @internal */ readonly rt: FsRuntime;
  #fd: number;
  #refs = 1;
  #closePromise: Promise<void> | null | undefined = null;
  #closeResolve: (() => void) | undefined;
  #closeReject: ((e: Error) => void) | undefined;

  /** @internal Use open(). */
  constructor(rt: FsRuntime, fd: number) {
    super();
    this.rt = rt;
    this.#fd = fd;
    registry.register(this, fd, this);
  }

  get fd(): number {
    return this.#fd;
  }

  // ---- reference counting, as node's fsCall/kRef/kUnref ----

  /** Starts an op: the "file closed" error if closed, else null (and a ref is taken). */
  #ref(syscall: string): Error | null {
    if (this.#fd === -1) return fileClosedError(syscall);
    this.#refs++;
    return null;
  }

  /** @internal */
  [kUnref](): void {
    if (--this.#refs === 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#closeFd(fd).then(this.#closeResolve, this.#closeReject);
    }
  }

  /** Runs an async op under a ref (slow paths). */
  async #call<T>(syscall: string, fn: (fd: number) => Promise<T>): Promise<T> {
    const closed = this.#ref(syscall);
    if (closed) throw closed;
    try {
      return await fn(this.#fd);
    } finally {
      this[kUnref]();
    }
  }

  #closeFd(fd: number): Promise<void> {
    registry.unregister(this);
    const slot = this.#slot;
    if (slot >= 0) {
      this.#slot = SLOT_NONE;
      this.rt.closeSlot(slot); // drops the table's reference; ordered before nothing else
    }
    // The ring gone (closed under us): close the fd the plain way, never leak it.
    if (this.rt.ex.closed) return promisify(fs.close)(fd);
    return this.rt.close(fd).then(() => undefined);
  }

  close = (): Promise<void> => {
    if (this.#fd === -1) return Promise.resolve();
    if (this.#closePromise) return this.#closePromise;
    this.#refs--;
    if (this.#refs === 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#closePromise = this.#closeFd(fd).finally(() => {
        this.#closePromise = undefined;
      });
    } else {
      this.#closePromise = new Promise<void>((resolve, reject) => {
        this.#closeResolve = resolve;
        this.#closeReject = reject;
      }).finally(() => {
        this.#closePromise = undefined;
        this.#closeReject = undefined;
        this.#closeResolve = undefined;
      });
    }
    this.emit('close');
    return this.#closePromise;
  };

  [SymbolAsyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- read ----

  read<T extends ArrayBufferView = Buffer>(buffer?: T | { buffer?: T; offset?: number; length?: number; position?: number | bigint | null } | null, offset?: number | null | { offset?: number; length?: number; position?: number | bigint | null }, length?: number | null, position?: number | bigint | null): Promise<ReadResult<T>> {
    // Fast path: read(buffer, offset, length, position) with plain valid
    // numbers, which passes node's checks unchanged.
    const pos = fastPosition(position);
    if (
      typeof offset === 'number' && typeof length === 'number' && isArrayBufferView(buffer) &&
      (offset | 0) === offset && offset >= 0 && (length | 0) === length && length > 0 &&
      offset + length <= buffer.byteLength && this.#fd !== -1 && length <= MAX_IO && pos === pos
    ) {
      this.#refs++;
      return this.#submitRead(buffer, offset, length, pos) as Promise<ReadResult<T>>;
    }
    return this.#readSlow(buffer, offset, length, position) as Promise<ReadResult<T>>;
  }

  #readSlow(buffer: unknown, offset: unknown, length: unknown, position: unknown): Promise<ReadResult<ArrayBufferView>> {
    const closed = this.#ref('read');
    if (closed) return Promise.reject(closed);
    try {
      const a = readArgs(buffer, offset, length, position);
      if (a.empty) {
        this[kUnref]();
        return Promise.resolve(readResult(0, a.buffer));
      }
      const ringAt = ringPosition(a.position);
      if (a.length > MAX_IO || ringAt !== ringAt) return this.#readPieces(a.buffer, a.offset, a.length, ringAt === ringAt ? ringAt : a.position);
      return this.#submitRead(a.buffer, a.offset, a.length, ringAt);
    } catch (e) {
      this[kUnref]();
      return Promise.reject(e);
    }
  }

  /** One read SQE into pool memory; a ref is held (dropped in readDone). */
  #submitRead(buf: ArrayBufferView, off: number, n: number, pos: number): Promise<ReadResult<ArrayBufferView>> {
    const rt = this.rt;
    const ex = rt.ex;
    let job: ReadJob;
    try {
      job = ex.begin('read', new ReadJob('read')) as ReadJob;
    } catch (e) {
      this[kUnref]();
      return Promise.reject(e);
    }
    const mem = rt.get(n);
    job.fh = this;
    job.mem = mem;
    job.buffer = buf;
    job.offset = off;
    job.done = readDone;
    const at = ex.add(job);
    const s = ex.sqes;
    const slot = this.#slot;
    if (slot >= 0) {
      prep.prep_read(s, at, slot, mem.addr, n, pos);
      prep.sqe_set_flags(s, at, READ_FLAGS);
    } else {
      prep.prep_read(s, at, this.#fd, mem.addr, n, pos);
      if (slot === SLOT_NONE && ++this.#ops === FIXED_AFTER) this.#registerFixed();
    }
    return ex.commit<ReadResult<ArrayBufferView>>(job);
  }

  // ---- the fd in the registered file table (IOSQE_FIXED_FILE) ----

  /** Direct-table slot holding this file, SLOT_NONE, or SLOT_PENDING while registering. */
  #slot = SLOT_NONE;
  #ops = 0;

  /**
   * A handle used for many reads gets its file installed in the ring's
   * registered table (IORING_OP_FILES_UPDATE): reads then skip the per-op
   * fd lookup and refcount (~5% on W1). Registered lazily, so handles used
   * for a few ops cost nothing extra.
   */
  #registerFixed(): void {
    const rt = this.rt;
    if (!rt.direct) return;
    const slot = rt.takeSlot();
    if (slot < 0) return;
    this.#slot = SLOT_PENDING;
    const m = rt.get(4);
    m.buf.writeInt32LE(this.#fd, 0);
    rt.op('files_update', (s, at) => prep.prep_files_update(s, at, m.addr, 1, slot), undefined, undefined, m).then(
      () => {
        if (this.#fd === -1 || this.#closePromise) {
          rt.closeSlot(slot); // closed meanwhile: take it out again
          this.#slot = SLOT_NONE;
        } else this.#slot = slot;
      },
      () => {
        rt.slotDone(slot, false, 0);
        this.#slot = SLOT_FAILED;
      },
    );
  }

  /**
   * A read in sequential pieces of pool memory, stopping at a short one:
   * larger than MAX_IO, or at a bigint position past 2^53, which node's own
   * fs.read serves (the ring's offsets are numbers; no file has data there
   * in practice, but the answer must still be node's).
   */
  async #readPieces(buf: ArrayBufferView, off: number, len: number, pos: number | bigint): Promise<ReadResult<ArrayBufferView>> {
    let total = 0;
    const size = Math.min(MAX_IO, len);
    try {
      await withBig(this.rt, size, async () => {
        const mem = this.rt.get(size);
        try {
          while (total < len) {
            const want = Math.min(size, len - total);
            const n = typeof pos === 'bigint'
              ? await fsRead(this.#fd, mem.buf, want, pos + BigInt(total))
              : await this.rt.read(this.#fd, mem, 0, want, pos < 0 ? -1 : pos + total);
            const room = Math.min(n, buf.byteLength - off - total);
            if (room > 0) new Uint8Array(buf.buffer, buf.byteOffset + off + total, room).set(mem.buf.subarray(0, room));
            total += n;
            if (n < want) break;
          }
        } finally {
          this.rt.put(mem);
        }
      });
    } finally {
      this[kUnref]();
    }
    return readResult(total, buf);
  }

  readv<T extends ArrayBufferView[]>(buffers: T, position?: number | null): Promise<{ bytesRead: number; buffers: T }> {
    return this.#call('readv', async (fd) => {
      validateBufferArray(buffers);
      const pos = typeof position === 'number' ? readPosition(position) : -1;
      // readv(2) with no buffers: libuv answers EINVAL.
      if (buffers.length === 0) throw errnoError(-22, 'read');
      let total = 0;
      for (const b of buffers) total += b.byteLength;
      // One read into one chunk, scattered at completion: the same bytes
      // readv(2) would place, from one syscall.
      return withBig(this.rt, total, async () => {
      const mem = this.rt.get(total);
      try {
        const n = await this.rt.op('read', (s, at) => prep.prep_read(s, at, fd, mem.addr, total, pos));
        scatter(mem.buf, n, buffers);
        return { __proto__: null, bytesRead: n, buffers } as unknown as { bytesRead: number; buffers: T };
      } finally {
        this.rt.put(mem);
      }
      });
    });
  }

  // ---- write ----

  write<T extends ArrayBufferView | string>(buffer: T, offsetOrOptions?: unknown, length?: unknown, position?: unknown): Promise<WriteResult<T>> {
    return this.#call('write', async (fd) => {
      if ((buffer as unknown as { byteLength?: number } | null | undefined)?.byteLength === 0) {
        return { __proto__: null, bytesWritten: 0, buffer } as unknown as WriteResult<T>;
      }
      const a = writeArgs(buffer, offsetOrOptions, length, position);
      const n = typeof a.data === 'string' ? await this.#writeString(fd, a.data, a.encoding, a.position) : await this.#writeBytes(fd, a.data, a.position);
      return { __proto__: null, bytesWritten: n, buffer } as unknown as WriteResult<T>;
    });
  }

  /** @internal One write(2) of `src` (copied into pool memory now), at `pos` (-1: file position). */
  async #writeBytes(fd: number, src: Uint8Array, pos: number): Promise<number> {
    const len = src.byteLength;
    if (len > MAX_IO) {
      let total = 0;
      while (total < len) {
        const want = Math.min(MAX_IO, len - total);
        const n = await this.#writeBytes(fd, src.subarray(total, total + want), pos < 0 ? -1 : pos + total);
        total += n;
        if (n < want) break;
      }
      return total;
    }
    return withBig(this.rt, len, async () => {
      const mem = this.rt.get(len);
      mem.buf.set(src);
      try {
        return await this.rt.write(fd, mem, 0, len, pos);
      } finally {
        this.rt.put(mem);
      }
    });
  }

  async #writeString(fd: number, s: string, enc: BufferEncoding, pos: number): Promise<number> {
    const len = Buffer.byteLength(s, enc);
    if (len >= BIG_OP) return this.#writeBytes(fd, Buffer.from(s, enc), pos);
    const mem = this.rt.get(len);
    try {
      const n = mem.buf.write(s, 0, len, enc);
      return await this.rt.write(fd, mem, 0, n, pos);
    } finally {
      this.rt.put(mem);
    }
  }

  writev<T extends ArrayBufferView[]>(buffers: T, position?: number | null): Promise<{ bytesWritten: number; buffers: T }> {
    return this.#call('writev', async (fd) => {
      validateBufferArray(buffers);
      const pos = writePosition(typeof position === 'number' ? position : null);
      if (buffers.length === 0) return { __proto__: null, bytesWritten: 0, buffers } as unknown as { bytesWritten: number; buffers: T };
      let total = 0;
      for (const b of buffers) total += b.byteLength;
      const n = await this.#writeBytes(fd, gather(buffers, total), pos);
      return { __proto__: null, bytesWritten: n, buffers } as unknown as { bytesWritten: number; buffers: T };
    });
  }

  // ---- whole-file helpers ----

  readFile(options?: unknown): Promise<Buffer | string> {
    return this.#call('readFile', () => readFileFromHandle(this, options));
  }

  /** @internal The read loop of readFile on this handle (validated options). */
  async readAll(encoding: string | null | undefined, signal: AbortSignal | undefined): Promise<Buffer | string> {
    return readLoop(this.rt, this.#fd, encoding, signal);
  }

  writeFile(data: unknown, options?: unknown): Promise<void> {
    return this.#call('writeFile', () => writeFileToHandle(this, data, options));
  }

  appendFile(data: unknown, options?: unknown): Promise<void> {
    return this.#call('writeFile', () => writeFileToHandle(this, data, options));
  }

  /** @internal Writes all of `data` at the file position (node's writeFileHandle loop). */
  async writeAll(data: Uint8Array, signal: AbortSignal | undefined, check: (s: AbortSignal | undefined) => void): Promise<void> {
    let remaining = data.byteLength;
    if (remaining === 0) return;
    let off = 0;
    do {
      check(signal);
      const n = await this.#writeBytes(this.#fd, data.subarray(off, off + remaining), -1);
      remaining -= n;
      off += n;
    } while (remaining > 0);
  }

  // ---- metadata ----

  stat(options: { bigint?: boolean } = { bigint: false }): Promise<fs.Stats | fs.BigIntStats> {
    return this.#call('fstat', async (fd) => {
      const bigint = options.bigint;
      const rt = this.rt;
      const out = rt.get(256);
      const empty = rt.get(1);
      empty.buf[0] = 0;
      try {
        await rt.statx(fd, empty, abi.AT_EMPTY_PATH, out, 'fstat');
        return statsFrom(out.buf, 0, !!bigint);
      } finally {
        rt.put(out);
        rt.put(empty);
      }
    });
  }

  truncate(len: unknown = 0): Promise<void> {
    return this.#call('ftruncate', async (fd) => {
      validateInteger(len, 'len');
      const n = Math.max(0, len);
      if (this.rt.ftruncate) await this.rt.op('ftruncate', (s, at) => prep.prep_ftruncate(s, at, fd, n));
      else await promisify(fs.ftruncate)(fd, n);
    });
  }

  sync(): Promise<void> {
    return this.#call('fsync', async (fd) => {
      await this.rt.fsync(fd, false);
    });
  }

  datasync(): Promise<void> {
    return this.#call('fdatasync', async (fd) => {
      await this.rt.fsync(fd, true);
    });
  }

  // Delegated to node:fs on the fd (no io_uring op): chmod, chown, utimes.
  chmod(mode: fs.Mode): Promise<void> {
    return this.#call('fchmod', (fd) => fchmod(fd, mode));
  }

  chown(uid: number, gid: number): Promise<void> {
    return this.#call('fchown', (fd) => fchown(fd, uid, gid));
  }

  utimes(atime: fs.TimeLike, mtime: fs.TimeLike): Promise<void> {
    return this.#call('futimes', (fd) => futimes(fd, atime, mtime));
  }

  // Streams: node's fs streams on this handle's fd, with I/O through the ring.
  createReadStream(options?: Record<string, unknown>): fs.ReadStream {
    return fs.createReadStream(null as unknown as string, { ...options, fd: this.fd, fs: streamOps(this) } as never);
  }

  createWriteStream(options?: Record<string, unknown>): fs.WriteStream {
    return fs.createWriteStream(null as unknown as string, { ...options, fd: this.fd, fs: streamOps(this) } as never);
  }

  readLines(options?: Record<string, unknown>): Interface {
    return createInterface({ input: this.createReadStream(options), crlfDelay: Infinity });
  }

  #webStream = false;

  readableWebStream(options: { type?: unknown } = {}): ReadableStream<Uint8Array | ArrayBuffer> {
    if (this.#fd === -1) throw ERR_INVALID_STATE('The FileHandle is closed');
    if (this.#closePromise) throw ERR_INVALID_STATE('The FileHandle is closing');
    if (this.#webStream) throw ERR_INVALID_STATE('The FileHandle is locked');
    checkStreamType(options.type);
    this.#webStream = true;
    this.#refs++;
    return byteStream(this, options.type, () => this[kUnref]());
  }

  #asyncId = 0;

  /** A stable async id for the handle (node's comes from its native handle). */
  getAsyncId(): number {
    return (this.#asyncId ||= new AsyncResource('FILEHANDLE').asyncId());
  }
}

// Set by promises.ts (they share node's top-level readFile/writeFile logic).
let readFileFromHandle: (fh: FileHandle, options: unknown) => Promise<Buffer | string>;
let writeFileToHandle: (fh: FileHandle, data: unknown, options: unknown) => Promise<void>;

/** @internal */
export function setHandleFileOps(r: typeof readFileFromHandle, w: typeof writeFileToHandle): void {
  readFileFromHandle = r;
  writeFileToHandle = w;
}
