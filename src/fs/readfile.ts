// readFile as one submission: a linked chain
//
//   openat  -> direct descriptor slot      IO_LINK | CQE_SKIP_SUCCESS
//   read    R1 bytes, fixed file           IO_HARDLINK
//   read    R2 bytes, fixed file           IO_HARDLINK   (the EOF probe)
//   close   the direct descriptor
//
// The hard links make the close run whatever happens to the reads (short
// read, error, cancel), so the descriptor never outlives the chain (S7). If
// the open fails, the rest fails too and the slot stays empty.
//
// The second read is what makes the result exact for every kind of file: a
// regular file shorter than R1 answers it with 0 (EOF, certain). Only a
// file with more than R1 bytes, or a pipe/tty that had more to say, gives it
// data; then the rest is read by the continuation (a plain open + statx +
// read loop from where the chain stopped), as node does with its own loop.
//
// Nothing user-visible is touched until the job's last CQE: the data lands
// in pool memory and is copied into a fresh Buffer (or decoded) only if the
// promise is still wanted (S2).

import { Job } from '../executor.js';
import * as abi from '../ring/abi.js';
import * as prep from '../ring/prep.js';
import { errnoError } from '../errors.js';
import { type FsRuntime, type Mem, type Abortable, O_CLOEXEC, noop, watchAbort, unwatchAbort } from './runtime.js';
import { abortError, ERR_FS_FILE_TOO_LARGE, ERR_UNKNOWN_ENCODING } from './errors.js';
import { kIoMaxLength, O } from './validate.js';
import { modeAndSize } from './stats.js';

/** First read: most files end within it. */
export const R1 = 124 * 1024;
/** Second read: the EOF probe (and 4 KiB more data for free). */
export const R2 = 4 * 1024;
/** Where the path goes, after the data. */
const PATH_OFF = R1 + R2;
/** Paths up to this many UTF-8 bytes share the data chunk. */
const PATH_ROOM = 128 * 1024 - PATH_OFF - 1;

const FLAGS_OPEN = abi.IOSQE_IO_LINK | abi.IOSQE_CQE_SKIP_SUCCESS;
const FLAGS_READ = abi.IOSQE_FIXED_FILE | abi.IOSQE_IO_HARDLINK;

/** At most this many readFile chains hold memory and a slot at once; more wait in line. */
const MAX_ACTIVE = 256;

/** A readFile chain: the job carries all its state (no closure per op). */
class ReadFileJob extends Job implements Abortable {
  rt!: FsRuntime;
  mem!: Mem;
  /** Separate path memory for long paths, else null. */
  pmem: Mem | null = null;
  /** Direct descriptor slot (not Job.slot, the tag). */
  dslot = -1;
  pathText = '';
  /** The path as given (the continuation reopens it). */
  pathArg: string | Uint8Array = '';
  flags = 0;
  encoding: string | null | undefined = undefined;
  signal: AbortSignal | undefined = undefined;

  abortNow(): void {
    this.rt.ex.abandon(this, abortError(this.signal));
  }
}

let active = 0;
/** Requests waiting for room: a closure each, only under overload. */
const waiting: (() => void)[] = [];
let waitHead = 0;

/**
 * readFile(path) for a validated path, O_* flags and options. Resolves with
 * a Buffer, or a string when `encoding` is set.
 */
export function readFileChain(
  rt: FsRuntime,
  path: string | Uint8Array,
  pathText: string,
  flags: number,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | string> {
  if (active < MAX_ACTIVE) return start(rt, path, pathText, flags, encoding, signal);
  return new Promise((resolve, reject) => {
    const waiter: Abortable = { abortNow: () => reject(abortError(signal)) };
    if (signal) watchAbort(signal, waiter);
    waiting.push(() => {
      if (signal) {
        unwatchAbort(signal, waiter);
        if (signal.aborted) {
          next();
          return;
        }
      }
      start(rt, path, pathText, flags, encoding, signal).then(resolve, reject);
    });
  });
}

function next(): void {
  if (waitHead < waiting.length) {
    const run = waiting[waitHead]!;
    waiting[waitHead++] = undefined as unknown as () => void;
    if (waitHead > 1024 && waitHead * 2 > waiting.length) {
      waiting.splice(0, waitHead);
      waitHead = 0;
    }
    run();
  }
}

function start(
  rt: FsRuntime,
  path: string | Uint8Array,
  pathText: string,
  flags: number,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | string> {
  const slot = rt.direct ? rt.takeSlot() : -1;
  if (slot < 0) return readFileUnchained(rt, path, pathText, flags, encoding, signal);
  const ex = rt.ex;
  const job = ex.begin('open', new ReadFileJob('open')) as ReadFileJob;
  active++;
  const mem = rt.get(R1 + R2 + 1);
  let pathAddr: number;
  let pmem: Mem | null = null;
  if (typeof path === 'string' && path.length * 3 <= PATH_ROOM) {
    const n = mem.buf.write(path, PATH_OFF, 'utf8');
    mem.buf[PATH_OFF + n] = 0;
    pathAddr = mem.addr + PATH_OFF;
  } else {
    pmem = rt.pathMem(path);
    pathAddr = pmem.addr;
  }
  job.rt = rt;
  job.mem = mem;
  job.pmem = pmem;
  job.dslot = slot;
  job.pathText = pathText;
  job.pathArg = path;
  job.flags = flags;
  job.encoding = encoding;
  job.done = readFileDone;
  let at = ex.add(job);
  let s = ex.sqes;
  prep.prep_openat_direct(s, at, abi.AT_FDCWD, pathAddr, flags & ~O_CLOEXEC, 0o666, slot);
  prep.sqe_set_flags(s, at, FLAGS_OPEN);
  at = ex.add(job);
  s = ex.sqes;
  prep.prep_read(s, at, slot, mem.addr, R1, -1);
  prep.sqe_set_flags(s, at, FLAGS_READ);
  at = ex.add(job);
  s = ex.sqes;
  prep.prep_read(s, at, slot, mem.addr + R1, R2, -1);
  prep.sqe_set_flags(s, at, FLAGS_READ);
  at = ex.add(job);
  prep.prep_close_direct(ex.sqes, at, slot);
  const p = ex.commit<Buffer | string>(job);
  if (signal) {
    job.signal = signal;
    watchAbort(signal, job);
  }
  return p;
}

function readFileDone(j: Job): Buffer | string | Promise<Buffer | string> {
  const job = j as ReadFileJob;
  const rt = job.rt;
  const res = job.res;
  const rOpen = res[0]!;
  const r1 = res[1]!;
  const r2 = res[2]!;
  rt.slotDone(job.dslot, rOpen >= 0, res[3]!);
  if (job.signal) unwatchAbort(job.signal, job);
  if (job.pmem) rt.put(job.pmem);
  active--;
  if (waitHead < waiting.length) queueMicrotask(next);
  const mem = job.mem;
  if (job.settled) {
    rt.put(mem);
    return undefined as never;
  }
  let err: Error | null = null;
  if (rOpen < 0) err = errnoError(rOpen, 'open', job.pathText);
  else if (job.encoding === 'buffer') err = ERR_UNKNOWN_ENCODING('buffer');
  else if (r1 < 0) err = errnoError(r1, 'read');
  else if (r2 < 0) err = errnoError(r2, 'read');
  if (err !== null) {
    rt.put(mem);
    throw err;
  }
  const enc = job.encoding;
  if (r2 <= 0) {
    // The whole file, certain: the probe saw EOF.
    let out: Buffer | string;
    if (enc) out = mem.buf.toString(enc as BufferEncoding, 0, r1);
    else {
      out = Buffer.allocUnsafeSlow(r1);
      if (r1 > 0) mem.buf.copy(out, 0, 0, r1);
    }
    rt.put(mem);
    return out;
  }
  // More may follow: keep what the chain read, continue from there.
  const prefix = Buffer.allocUnsafeSlow(r1 + r2);
  mem.buf.copy(prefix, 0, 0, r1);
  mem.buf.copy(prefix, r1, R1, R1 + r2);
  rt.put(mem);
  return readRest(rt, job.pathArg, job.pathText, job.flags, prefix, enc, job.signal);
}

/** Flags to reopen a file that the chain already opened: never create, truncate or fail on existence. */
function reopenFlags(flags: number): number {
  return flags & ~(O.O_CREAT | O.O_EXCL | O.O_TRUNC);
}

/**
 * Reads the rest of a file after `prefix` (what the chain got), node's way:
 * a regular file up to its size, anything else until read returns 0.
 */
async function readRest(
  rt: FsRuntime,
  path: string | Uint8Array,
  pathText: string,
  flags: number,
  prefix: Buffer,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | string> {
  if (signal?.aborted) throw abortError(signal);
  const fd = await rt.open(path, pathText, reopenFlags(flags), 0o666);
  try {
    return await readLoop(rt, fd, prefix, prefix.length, encoding, signal);
  } finally {
    await rt.close(fd).catch(noop);
  }
}

/** S_IFMT / S_IFREG */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** Largest single read of the loop (through one pool chunk). */
const LOOP_READ = 1 << 20;

/**
 * The read loop of node's readFileHandle, on an open fd, after `have` bytes
 * (already in `prefix`). For a regular file of known size, reads at explicit
 * offsets `have`..size; otherwise reads at the file position until EOF.
 */
export async function readLoop(
  rt: FsRuntime,
  fd: number,
  prefix: Buffer | null,
  have: number,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
  positioned = true,
): Promise<Buffer | string> {
  const st = rt.get(256);
  const empty = rt.get(1);
  empty.buf[0] = 0;
  let mode: number;
  let size: number;
  try {
    await rt.statx(fd, empty, abi.AT_EMPTY_PATH, st, 'fstat');
    ({ mode, size } = modeAndSize(st.buf, 0));
  } finally {
    rt.put(st);
    rt.put(empty);
  }
  if (signal?.aborted) throw abortError(signal);
  const regular = (mode & S_IFMT) === S_IFREG;
  if (!regular) size = 0;
  if (size > kIoMaxLength) throw ERR_FS_FILE_TOO_LARGE(size);
  const parts: Buffer[] = [];
  if (prefix && have > 0) parts.push(prefix.length === have ? prefix : prefix.subarray(0, have));
  let total = have;
  const mem = rt.get(Math.min(LOOP_READ, size > 0 ? Math.max(size - have, 4096) : 64 * 1024));
  try {
    for (;;) {
      if (size > 0 && total >= size) break;
      const want = size > 0 ? Math.min(size - total, mem.buf.length) : mem.buf.length;
      // A regular file is read at explicit offsets (after the prefix the
      // chain read); anything else at its position, like node.
      const n = await rt.read(fd, mem, 0, want, regular && positioned ? total : -1);
      if (signal?.aborted) throw abortError(signal);
      if (n === 0) break;
      const piece = Buffer.allocUnsafeSlow(n);
      mem.buf.copy(piece, 0, 0, n);
      parts.push(piece);
      total += n;
      if (total > kIoMaxLength) throw ERR_FS_FILE_TOO_LARGE(total);
    }
  } finally {
    rt.put(mem);
  }
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  if (encoding) return out.toString(encoding as BufferEncoding);
  if (out.length === total && out.buffer.byteLength === total) return out;
  const exact = Buffer.allocUnsafeSlow(total);
  out.copy(exact);
  return exact;
}

/**
 * readFile without direct descriptors (a backend without a registered file
 * table, or all slots busy): open, then node's read loop, then close.
 */
async function readFileUnchained(
  rt: FsRuntime,
  path: string | Uint8Array,
  pathText: string,
  flags: number,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | string> {
  const fd = await rt.open(path, pathText, flags, 0o666);
  try {
    if (encoding === 'buffer') throw ERR_UNKNOWN_ENCODING('buffer');
    if (signal?.aborted) throw abortError(signal);
    return await readLoop(rt, fd, null, 0, encoding, signal, false);
  } finally {
    await rt.close(fd).catch(noop);
  }
}

/** Diagnostics for tests. */
export function readFileStats(): { active: number; waiting: number } {
  return { active, waiting: waiting.length - waitHead };
}
