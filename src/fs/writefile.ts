// writeFile and appendFile below the facade (promises.ts reads the
// options): node's checks on the data, then one of two ways to write it.
//
// Bytes up to WRITE_CHAIN_MAX, with a direct descriptor slot free, go as one
// linked chain, so the whole call is one submission and the descriptor never
// outlives it:
//
//   openat  -> direct descriptor slot      IO_LINK
//   write   all the bytes, fixed file      IO_HARDLINK   (none for empty data)
//   fsync   (flush: true), fixed file      IO_HARDLINK
//   close_direct
//
// A short write (disk full, a signal) is finished through a reopen at the
// same offset (writeRest), so no byte is lost. Everything else (a FileHandle,
// an iterable, larger data, no direct descriptors or none free) goes node's
// way: open, node's write loop, fsync if asked, close.

import { Job } from '../executor/executor.js';
import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import { errnoError } from '../errors.js';
import { type FsRuntime, type Mem, type Abortable, O_CLOEXEC, watchAbort, unwatchAbort, EBADF, BIG_OP } from './runtime.js';
import { FileHandle } from './filehandle.js';
import { closeAfter } from './handle-io.js';
import { abortError, checkAborted } from './errors.js';
import {
  getValidatedPath, pathText, stringToFlags, parseFileMode, validateBoolean, validateStringAfterArrayBufferView,
  validateAbortSignal, isArrayBufferView, kWriteFileMaxChunkSize, O, type FsOptions, type PathLike,
} from './validate.js';

function isIterable(obj: unknown): boolean {
  if (obj == null) return false;
  return typeof (obj as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function' || typeof (obj as Record<symbol, unknown>)[Symbol.iterator] === 'function';
}

function isCustomIterable(obj: unknown): boolean {
  return isIterable(obj) && !isArrayBufferView(obj) && typeof obj !== 'string';
}

/** node's checks on writeFile's data and options, in its order: the data to write (a string as bytes). */
function checkedData(data: unknown, o: FsOptions): unknown {
  validateBoolean(o.flush ?? false, 'options.flush');
  if (!isArrayBufferView(data) && !isCustomIterable(data)) {
    validateStringAfterArrayBufferView(data, 'data');
    data = Buffer.from(data, (o.encoding || 'utf8') as BufferEncoding);
  }
  validateAbortSignal(o.signal, 'options.signal');
  return data;
}

/** Largest writeFile done as one chain (bigger ones: open + write loop + close). */
const WRITE_CHAIN_MAX = 8 << 20;

/** writeFile/appendFile on the ring, `o` from getOptions, `flag` the open flag. */
export function writeFileImpl(r: FsRuntime, path: PathLike | FileHandle, data: unknown, o: FsOptions, flag: string | number): Promise<void> {
  data = checkedData(data, o);
  if (path instanceof FileHandle) return writeFileHandle(path, data, o.signal, o.encoding);
  checkAborted(o.signal);
  const p = getValidatedPath(path);
  const flags = stringToFlags(flag);
  const mode = parseFileMode(o.mode, 'mode', 0o666);
  const flush = o.flush ?? false;
  if (isArrayBufferView(data) && data.byteLength <= WRITE_CHAIN_MAX && r.direct) {
    return writeFileBytes(r, p, flags, mode, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), flush, o);
  }
  return writeFileOpen(r, p, flags, mode, data, flush, o.signal, o.encoding);
}

/** FileHandle.writeFile/appendFile (`o` from getOptions). */
export function writeFileToHandle(fh: FileHandle, data: unknown, o: FsOptions): Promise<void> {
  data = checkedData(data, o);
  return writeFileHandle(fh, data, o.signal, o.encoding);
}

/** Bytes that fit a chain: one if a slot is free, else node's way. */
function writeFileBytes(r: FsRuntime, p: string | Uint8Array, flags: number, mode: number, bytes: Uint8Array, flush: boolean, o: FsOptions): Promise<void> {
  const signal = o.signal;
  // Big data waits for pool memory (a storm of large writes must not exhaust it).
  const big = bytes.byteLength >= BIG_OP ? bytes.byteLength : 0;
  const wait = big ? r.acquireBig(big) : null;
  const go = (): Promise<void> => {
    if (signal?.aborted) {
      if (big) r.releaseBig(big);
      return Promise.reject(abortError(signal));
    }
    const slot = r.takeSlot();
    if (slot >= 0) return writeFileChain(r, slot, p, flags, mode, bytes, flush, signal, big);
    if (big) r.releaseBig(big);
    return writeFileOpen(r, p, flags, mode, bytes, flush, signal, o.encoding);
  };
  return wait ? wait.then(go) : go();
}

/** writeFile through a FileHandle: node's writeFileHandle loop. */
async function writeFileHandle(fh: FileHandle, data: unknown, signal: AbortSignal | undefined, encoding: unknown): Promise<void> {
  checkAborted(signal);
  if (isCustomIterable(data)) {
    for await (const buf of data as AsyncIterable<unknown>) {
      checkAborted(signal);
      const toWrite = isArrayBufferView(buf) ? buf : Buffer.from(buf as string, ((encoding as string) || 'utf8') as BufferEncoding);
      let remaining = toWrite.byteLength;
      while (remaining > 0) {
        const writeSize = Math.min(kWriteFileMaxChunkSize, remaining);
        const { bytesWritten } = await fh.write(toWrite, toWrite.byteLength - remaining, writeSize);
        remaining -= bytesWritten;
        checkAborted(signal);
      }
    }
    return;
  }
  const view = data as ArrayBufferView;
  await fh.writeAll(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), signal, checkAborted);
}

/** writeFile without a chain: open, node's write loop, (fsync), close. */
async function writeFileOpen(r: FsRuntime, p: string | Uint8Array, flags: number, mode: number, data: unknown, flush: boolean, signal: AbortSignal | undefined, encoding: unknown): Promise<void> {
  const fd = await r.open(p, pathText(p), flags, mode);
  const fh = new FileHandle(r, fd);
  await closeAfter(fh, async () => {
    await writeFileHandle(fh, data, signal, encoding);
    if (flush) await fh.sync();
  });
}

/** One writeFile chain: open (direct) -> write -> [fsync] -> close. */
class WriteFileJob extends Job implements Abortable {
  rt!: FsRuntime;
  mem: Mem | null = null;
  pmem!: Mem;
  /** Direct descriptor slot (not Job.slot, the tag). */
  dslot = -1;
  pathArg: string | Uint8Array = '';
  pathStr = '';
  flags = 0;
  bytes!: Uint8Array;
  flush = false;
  /** Index of the write SQE, or -1 (empty data). */
  wi = -1;
  /** Big-op admission held (bytes), released at done. */
  big = 0;
  signal: AbortSignal | undefined = undefined;

  abortNow(): void {
    this.rt.ex.abandon(this, abortError(this.signal));
  }
}

function writeFileChain(r: FsRuntime, slot: number, p: string | Uint8Array, flags: number, mode: number, bytes: Uint8Array, flush: boolean, signal: AbortSignal | undefined, big: number): Promise<void> {
  const ex = r.ex;
  let job: WriteFileJob;
  try {
    job = ex.begin('open', new WriteFileJob('open')) as WriteFileJob;
  } catch (e) {
    r.slotDone(slot, false, 0);
    if (big) r.releaseBig(big);
    return Promise.reject(e);
  }
  job.big = big;
  const len = bytes.byteLength;
  job.rt = r;
  job.dslot = slot;
  job.pathArg = p;
  job.pathStr = pathText(p);
  job.flags = flags;
  job.bytes = bytes;
  job.flush = flush;
  const pm = r.pathMem(p);
  job.pmem = pm;
  let at = ex.add(job);
  prep.prep_openat_direct(ex.sqes, at, abi.AT_FDCWD, pm.addr, flags & ~O_CLOEXEC, mode, slot);
  prep.sqe_set_flags(ex.sqes, at, abi.IOSQE_IO_LINK);
  let k = 1;
  if (len > 0) {
    const mem = r.get(len);
    mem.buf.set(bytes);
    job.mem = mem;
    at = ex.add(job);
    prep.prep_write(ex.sqes, at, slot, mem.addr, len, -1);
    prep.sqe_set_flags(ex.sqes, at, abi.IOSQE_FIXED_FILE | abi.IOSQE_IO_HARDLINK);
    job.wi = k++;
  }
  if (flush) {
    at = ex.add(job);
    prep.prep_fsync(ex.sqes, at, slot, 0);
    prep.sqe_set_flags(ex.sqes, at, abi.IOSQE_FIXED_FILE | abi.IOSQE_IO_HARDLINK);
    k++;
  }
  at = ex.add(job);
  prep.prep_close_direct(ex.sqes, at, slot);
  job.done = writeFileDone;
  const promise = ex.commit<void>(job);
  if (signal) {
    job.signal = signal;
    watchAbort(signal, job);
  }
  return promise;
}

function writeFileDone(j: Job): void | Promise<void> {
  const job = j as WriteFileJob;
  const r = job.rt;
  const res = job.res;
  const n = res.length;
  const rOpen = res[0]!;
  const rClose = res[n - 1]!;
  r.slotDone(job.dslot, rOpen >= 0, rClose);
  r.put(job.pmem);
  if (job.mem) r.put(job.mem);
  if (job.big) r.releaseBig(job.big);
  if (job.signal) unwatchAbort(job.signal, job);
  if (job.settled) return;
  if (rOpen < 0) throw errnoError(rOpen, 'open', job.pathStr);
  const len = job.bytes.byteLength;
  if (job.wi > 0) {
    const w = res[job.wi]!;
    if (w < 0) throw errnoError(w, 'write');
    // A short write (disk full, a signal): the rest goes through a reopen,
    // at the same place, so no byte is lost (or the error is reported).
    if (w < len) return writeRest(r, job.pathArg, job.pathStr, job.flags, job.bytes.subarray(w), w, job.flush, job.signal);
  }
  if (job.flush) {
    const s = res[job.wi > 0 ? job.wi + 1 : 1]!;
    if (s < 0) throw errnoError(s, 'fsync');
  }
  if (rClose < 0 && rClose !== EBADF) throw errnoError(rClose, 'close');
}

async function writeRest(r: FsRuntime, p: string | Uint8Array, ptext: string, flags: number, rest: Uint8Array, at: number, flush: boolean, signal: AbortSignal | undefined): Promise<void> {
  checkAborted(signal);
  const fd = await r.open(p, ptext, flags & ~(O.O_CREAT | O.O_EXCL | O.O_TRUNC), 0o666);
  const fh = new FileHandle(r, fd);
  await closeAfter(fh, async () => {
    const append = (flags & O.O_APPEND) !== 0;
    let off = 0;
    while (off < rest.byteLength) {
      checkAborted(signal);
      const { bytesWritten } = await fh.write(rest, off, Math.min(kWriteFileMaxChunkSize, rest.byteLength - off), append ? null : at + off);
      off += bytesWritten;
    }
    if (flush) await fh.sync();
  });
}
