// readFile as one submission: a linked chain
//
//   openat  -> direct descriptor slot      IO_LINK
//   read    R1 bytes, fixed file           IO_HARDLINK
//   read    R2 bytes, fixed file           (the EOF probe)
//
// and the slot's close_direct, queued from the chain's done() (which runs at
// its last CQE whatever happened: success, error, abort, ring teardown), so
// the descriptor never outlives the op (S7). If the open fails the reads
// fail with it and the slot stays empty.
//
// The second read makes the result exact for every kind of file: a file
// that ends within R1 answers it with 0 (EOF, certain). Only a longer file,
// or a pipe/FIFO/tty with more to say, gives it data; then the rest is read
// from the same open descriptor until EOF.
//
// Why the close is not the chain's last, hard-linked member: then a file
// longer than R1 + R2 would have to be reopened by path to read the rest,
// which loses data of a FIFO (the writer gets EPIPE in the gap) and stitches
// two versions of a file replaced in between (write + rename). Measured, the
// separate close costs ~2% on W2 (it rides in the next tick's enter).
//
// No CQE_SKIP_SUCCESS on the open: when a skip-on-success request fails,
// the kernel (6.18 checked) cancels its links with their CQEs skipped too,
// so the chain would post one CQE instead of one per member; and measured,
// skipping the open's CQE gained nothing.
//
// Nothing user-visible is touched until the job's last CQE: the data lands
// in pool memory and is copied into a fresh Buffer (or decoded) only if the
// promise is still wanted (S2).

import { Job } from '../executor/executor.js';
import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import { errnoError } from '../errors.js';
import { type FsRuntime, type Mem, type Abortable, O_CLOEXEC, noop, watchAbort, unwatchAbort } from './runtime.js';
import { abortError, checkAborted, ERR_FS_FILE_TOO_LARGE, ERR_UNKNOWN_ENCODING } from './errors.js';
import { kIoMaxLength } from './validate.js';
import { modeAndSize } from './stats.js';

/** First read: most files end within it. */
export const R1 = 56 * 1024;
/** Second read: the EOF probe (and 4 KiB more data for free). */
export const R2 = 4 * 1024;
/** Where the path goes, after the data: one 64 KiB chunk per chain. */
const PATH_OFF = R1 + R2;
const CHUNK = 64 * 1024;
/** Paths up to this many UTF-8 bytes share the data chunk. */
const PATH_ROOM = CHUNK - PATH_OFF - 1;

/** Buffer's internal UTF-8 writer (skips write()'s argument juggling), if this Node has it. */
const utf8Write = (Buffer.prototype as unknown as { utf8Write?: (s: string, off: number) => number }).utf8Write;

// IOSQE_ASYNC on the open (the chain then runs in io-wq, on the other core) measured +0..8% on W2,
// inconsistent, and -40% on W1-sized reads: not used.
const FLAGS_OPEN = abi.IOSQE_IO_LINK;
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
  /** The path as given (the continuation's size hint). */
  pathArg: string | Uint8Array = '';
  flags = 0;
  encoding: string | null | undefined = undefined;
  signal: AbortSignal | undefined = undefined;

  abortNow(): void {
    this.rt.ex.abandon(this, abortError(this.signal));
  }
}

let active = 0;

/**
 * A readFile waiting for room (only under overload). Its state lives on the
 * object, not in a closure; an abort rejects it at once and leaves it in the
 * line, where next() skips it.
 */
class Waiter implements Abortable {
  constructor(
    readonly rt: FsRuntime,
    readonly path: string | Uint8Array,
    readonly pathText: string,
    readonly flags: number,
    readonly encoding: string | null | undefined,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (v: Buffer | string) => void,
    readonly reject: (e: unknown) => void,
  ) {}

  abortNow(): void {
    this.reject(abortError(this.signal));
  }
}

const waiting: (Waiter | undefined)[] = [];
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
  if (active < MAX_ACTIVE && waitHead === waiting.length) return start(rt, path, pathText, flags, encoding, signal);
  return new Promise((resolve, reject) => {
    const w = new Waiter(rt, path, pathText, flags, encoding, signal, resolve, reject);
    if (signal) watchAbort(signal, w);
    waiting.push(w);
  });
}

/** A chain (or its unchained fallback) gave its room back: let the line move. */
function release(): void {
  active--;
  if (waitHead < waiting.length) queueMicrotask(next);
}

/**
 * Starts waiters while there is room. A loop, not a recursion: a line of
 * 100,000 aborted waiters is skipped in one pass, with a flat stack.
 */
function next(): void {
  while (active < MAX_ACTIVE && waitHead < waiting.length) {
    const w = waiting[waitHead]!;
    waiting[waitHead++] = undefined;
    if (waitHead > 1024 && waitHead * 2 > waiting.length) {
      waiting.splice(0, waitHead);
      waitHead = 0;
    }
    if (w.signal) {
      unwatchAbort(w.signal, w);
      if (w.signal.aborted) continue; // already rejected by abortNow()
    }
    try {
      start(w.rt, w.path, w.pathText, w.flags, w.encoding, w.signal).then(w.resolve, w.reject);
    } catch (e) {
      w.reject(e);
    }
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
  if (slot < 0) {
    active++;
    // Counted as active too: the line must move when it ends, or waiters
    // queued behind a run of unchained reads would never start (S3).
    const p = readFileUnchained(rt, path, pathText, flags, encoding, signal);
    p.then(release, release);
    return p;
  }
  const ex = rt.ex;
  const job = ex.begin('open', new ReadFileJob('open')) as ReadFileJob;
  active++;
  const mem = rt.get(CHUNK);
  let pathAddr: number;
  let pmem: Mem | null = null;
  if (typeof path === 'string' && path.length * 3 <= PATH_ROOM) {
    const n = utf8Write !== undefined ? utf8Write.call(mem.buf, path, PATH_OFF) : mem.buf.write(path, PATH_OFF, 'utf8');
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
  prep.sqe_set_flags(s, at, abi.IOSQE_FIXED_FILE);
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
  if (job.signal) unwatchAbort(job.signal, job);
  if (job.pmem) rt.put(job.pmem);
  release();
  const mem = job.mem;
  const slot = job.dslot;
  // This runs at the chain's last CQE whatever became of the promise
  // (resolved, aborted, ring closing): the descriptor is always closed (S7).
  if (rOpen < 0) rt.slotDone(slot, false, 0);
  else if (job.settled || r1 < 0 || r2 <= 0 || job.encoding === 'buffer') rt.closeSlot(slot);
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
  if (r2 === 0) {
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
  // More may follow: read on from the same open file (still in its slot),
  // so a pipe/FIFO/tty loses nothing and a file replaced meanwhile (write
  // + rename) is never stitched from two versions. The chunk is the prefix;
  // make its bytes contiguous when the first read was short (a pipe, a tty).
  if (r1 < R1) mem.buf.copyWithin(r1, R1, R1 + r2);
  return readRest(rt, slot, job.pathArg, mem, r1 + r2, enc, job.signal);
}

/**
 * The rest of a file whose chain read `have` bytes (in `prefix`), from its
 * direct descriptor `slot`, which this closes. node stops at the size fstat
 * gave; a direct descriptor has no fstat, so statx(path) gives the same
 * size (and the same ERR_FS_FILE_TOO_LARGE) unless the path was replaced
 * meanwhile; the bytes themselves always come from the open file, to EOF.
 */
async function readRest(
  rt: FsRuntime,
  slot: number,
  path: string | Uint8Array,
  prefix: Mem,
  have: number,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | string> {
  try {
    let size = 0;
    const pm = rt.pathMem(path);
    const st = rt.get(256);
    try {
      await rt.statx(abi.AT_FDCWD, pm, 0, st, 'stat');
      const ms = modeAndSize(st.buf, 0);
      if ((ms.mode & S_IFMT) === S_IFREG) size = ms.size;
    } catch {
      // No size hint: read to EOF.
    } finally {
      rt.put(pm);
      rt.put(st);
    }
    if (size > kIoMaxLength) throw ERR_FS_FILE_TOO_LARGE(size);
    checkAborted(signal);
    let out = Buffer.allocUnsafeSlow(Math.max(size, have + 64 * 1024));
    prefix.buf.copy(out, 0, 0, have);
    let total = have;
    const memSize = Math.min(LOOP_READ, Math.max(size - have, 64 * 1024));
    const wait = rt.acquireBig(memSize);
    if (wait) await wait;
    const mem = rt.get(memSize);
    try {
      for (;;) {
        const n = await rt.op('read', (s, at) => {
          prep.prep_read(s, at, slot, mem.addr, mem.buf.length, -1);
          prep.sqe_set_flags(s, at, abi.IOSQE_FIXED_FILE);
        });
        checkAborted(signal);
        if (n === 0) break;
        if (total + n > out.length) {
          if (total + n > kIoMaxLength) throw ERR_FS_FILE_TOO_LARGE(total + n);
          const grown = Buffer.allocUnsafeSlow(Math.min(kIoMaxLength, Math.max(out.length * 2, total + n)));
          out.copy(grown, 0, 0, total);
          out = grown;
        }
        mem.buf.copy(out, total, 0, n);
        total += n;
      }
    } finally {
      rt.put(mem);
      rt.releaseBig(memSize);
    }
    if (encoding) return out.toString(encoding as BufferEncoding, 0, total);
    if (total === out.length) return out;
    const exact = Buffer.allocUnsafeSlow(total);
    out.copy(exact, 0, 0, total);
    return exact;
  } finally {
    rt.put(prefix);
    rt.closeSlot(slot);
  }
}

/** S_IFMT / S_IFREG */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** Largest single read of the loop (through one pool chunk). */
const LOOP_READ = 1 << 20;

/**
 * The read loop of node's readFileHandle on an open fd, from its current
 * position: a regular file up to the size fstat gives, anything else until
 * read returns 0.
 */
export async function readLoop(
  rt: FsRuntime,
  fd: number,
  encoding: string | null | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | string> {
  const have = 0;
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
  checkAborted(signal);
  const regular = (mode & S_IFMT) === S_IFREG;
  if (!regular) size = 0;
  if (size > kIoMaxLength) throw ERR_FS_FILE_TOO_LARGE(size);
  let out: Buffer;
  let total = have;
  if (size > 0) {
    // Known size (a regular file): one buffer, filled in place, like node
    // (which stops at the size fstat gave, even if the file grows).
    out = Buffer.allocUnsafeSlow(size);
    const memSize = Math.min(LOOP_READ, Math.max(size - have, 4096));
    const wait = rt.acquireBig(memSize);
    if (wait) await wait;
    const mem = rt.get(memSize);
    try {
      while (total < size) {
        const want = Math.min(size - total, mem.buf.length);
        const n = await rt.read(fd, mem, 0, want, -1);
        checkAborted(signal);
        if (n === 0) break;
        mem.buf.copy(out, total, 0, n);
        total += n;
      }
    } finally {
      rt.put(mem);
      rt.releaseBig(memSize);
    }
    if (total < out.length) out = out.subarray(0, total);
  } else {
    // Unknown size (procfs, pipes, devices): chunks until EOF.
    const parts: Buffer[] = [];
    const mem = rt.get(64 * 1024);
    try {
      for (;;) {
        const n = await rt.read(fd, mem, 0, mem.buf.length, -1);
        checkAborted(signal);
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
    out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }
  if (encoding) return out.toString(encoding as BufferEncoding);
  return out;
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
    checkAborted(signal);
    return await readLoop(rt, fd, encoding, signal);
  } finally {
    await rt.close(fd).catch(noop);
  }
}

/** Diagnostics for tests. */
export function readFileStats(): { active: number; waiting: number } {
  return { active, waiting: waiting.length - waitHead };
}
