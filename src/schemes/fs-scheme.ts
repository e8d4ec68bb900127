// The fs scheme: the io_uring file opcodes, executed with synchronous
// node:fs calls in scheme worker threads. Same opcode numbers and SQE
// fields as the kernel's (see ring/prep.ts); data moves directly between
// the file and pool memory (SharedArrayBuffer regions): no copies between
// threads. Errors are node's err.errno, which is already -errno.
//
// Where node:fs has no equivalent the emulation says so:
// - dirfd-relative paths go through /proc/self/fd/<dirfd>/ (Linux);
// - FALLOCATE extends by writing zeros (mode 0 only; supports() says false);
// - OPENAT2 honours RESOLVE_NO_SYMLINKS by an lstat walk (racy, like any
//   userspace check) and refuses the other RESOLVE_* flags (-EOPNOTSUPP);
// - RENAMEAT's RENAME_NOREPLACE checks then renames (racy);
// - SYNC_FILE_RANGE runs fdatasync, a superset of what was asked;
// - a read from a pipe never blocks the worker: it reads a non-blocking
//   reopen of the pipe and parks until data comes, so it stays cancellable.

import * as fs from 'node:fs';
import * as abi from '../abi/abi.js';
import { PENDING, type OpHandler, type OpTable, type Producer, type Chain, errnoOf } from '../backends/worker/producer.js';
import type { SchemeTable } from '../backends/worker.js';
import { SLOT_OWNED, SLOT_REGULAR } from '../backends/worker/files.js';
import { writeStatx } from './fs-scheme-statx.js';

const E = { EBADF: 9, EINVAL: 22, EFAULT: 14, ENXIO: 6, ENFILE: 23, ESPIPE: 29, EOPNOTSUPP: 95, EEXIST: 17, ELOOP: 40, ENOTDIR: 20 } as const;
const { O_RDONLY, O_NONBLOCK, O_CREAT } = fs.constants;
const O_TMPFILE = 0o20000000 | 0o200000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const EMPTY = Buffer.alloc(0);
const RESOLVE_NO_SYMLINKS = 0x04;
const RENAME_NOREPLACE = 1;
const AT_SYMLINK_FOLLOW = 0x400;
const FALLOC_FL_KEEP_SIZE = 1;
const ZEROS = Buffer.alloc(64 * 1024);
const fail = (errno: number): never => {
  throw { errno: -errno };
};

/**
 * Set by fdOf: the fd it returned is a regular file the scheme opened into
 * the table (SLOT_REGULAR), so a read at the file position cannot block on
 * a pipe and needs no fstat to find out. Saves a syscall and a Stats per
 * read on readFile's chains.
 */
let knownRegular = false;

/** The last short read at the file position of a known-regular file: its chain, member and fd. */
let eofChain: Chain | null = null;
let eofPos = -1;
let eofFd = -1;

/** The fd an SQE names: a registered slot with IOSQE_FIXED_FILE, else the number itself. */
function fdOf(p: Producer, at: number): number {
  const fd = p.sqes[at + 1]! | 0;
  knownRegular = false;
  if (((p.sqes[at]! >>> 8) & abi.IOSQE_FIXED_FILE) === 0) return fd < 0 ? fail(E.EBADF) : fd;
  const t = p.files;
  if (!t || fd < 0 || fd >= t.nr) return fail(E.EBADF);
  const real = t.fd(fd);
  if (real < 0) return fail(E.EBADF);
  knownRegular = t.regular(fd);
  return real;
}

/**
 * The SQE's off field as node wants a position: null for -1 (the file
 * position). node's vectored and write calls read anything but a number as
 * "the file position", so offsets past 2^53 are refused rather than misread.
 */
function position(p: Producer, at: number): number | null {
  const off = p.u64(at + 2);
  if (off === -1) return null;
  return off > MAX_SAFE ? fail(E.EINVAL) : off;
}

/** A path for node:fs, resolved against `dfd` the way openat(2) would. */
function atPath(dfd: number, path: Buffer): Buffer {
  if (dfd === abi.AT_FDCWD || (path.length > 0 && path[0] === 0x2f)) return path;
  let st: fs.Stats;
  try {
    st = fs.fstatSync(dfd);
  } catch (e) {
    return fail(-errnoOf(e, -E.EBADF));
  }
  if (!st.isDirectory()) fail(E.ENOTDIR);
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dfd}/`), path]);
}

function pathArg(p: Producer, at: number, dfdWord: number, addrWord: number): Buffer {
  return atPath(p.sqes[at + dfdWord]! | 0, p.cstr(p.u64(at + addrWord)));
}

function checkFixedBuffer(p: Producer, at: number, addr: number, len: number): void {
  const idx = p.sqes[at + 10]! & 0xffff;
  const b = p.buffers;
  if (!b || idx * 2 + 1 >= b.length) fail(E.EFAULT);
  const base = b![idx * 2]!;
  if (addr < base || addr + len > base + b![idx * 2 + 1]!) fail(E.EFAULT);
}

function iovecs(p: Producer, at: number): Buffer[] {
  const nr = p.sqes[at + 6]!;
  if (nr > 1024) fail(E.EINVAL);
  const raw = p.mem(p.u64(at + 4), nr * abi.IOVEC.size);
  const out: Buffer[] = [];
  for (let k = 0; k < nr; k++) {
    const o = k * 16;
    const base = raw.readUInt32LE(o) + raw.readUInt32LE(o + 4) * 4294967296;
    const len = raw.readUInt32LE(o + 8) + raw.readUInt32LE(o + 12) * 4294967296;
    out.push(len === 0 ? EMPTY : p.mem(base, len));
  }
  return out;
}

const total = (bufs: Buffer[]) => bufs.reduce((n, b) => n + b.length, 0);

/** Reads `bufs` from `fd`; a pipe is read without blocking the worker (see top). */
function readInto(p: Producer, at: number, slot: number, fd: number, bufs: Buffer[]): number {
  const pos = position(p, at);
  const want = total(bufs);
  if (pos === null && knownRegular && eofChain !== null) {
    const ch = p.chain;
    if (ch === eofChain && ch.pos === eofPos + 1 && fd === eofFd) {
      // readFile's EOF probe: the member before, on this regular file, was
      // a short read at the file position, so the file ended there. The
      // chain runs its members back to back, so answering 0 now is the
      // read the kernel would have done right after: one syscall saved.
      eofChain = null;
      p.short = want > 0;
      return 0;
    }
  }
  if (pos === null && !knownRegular && fs.fstatSync(fd).isFIFO()) return pipeRead(p, slot, fd, bufs);
  let n: number;
  try {
    n = bufs.length === 1 ? fs.readSync(fd, bufs[0]!, 0, want, pos) : fs.readvSync(fd, bufs, pos as number);
  } catch (e) {
    // io_uring reads a stream (pipe) from its current position whatever the offset.
    if ((e as { code?: string }).code === 'ESPIPE' && fs.fstatSync(fd).isFIFO()) return pipeRead(p, slot, fd, bufs);
    throw e;
  }
  if (n < want) {
    p.short = true;
    if (pos === null && knownRegular) {
      eofChain = p.chain;
      eofPos = eofChain ? eofChain.pos : -1;
      eofFd = fd;
    }
  }
  return n;
}

function pipeRead(p: Producer, slot: number, fd: number, bufs: Buffer[]): number {
  fs.readSync(fd, EMPTY, 0, 0, null); // EBADF for a write-only fd, as read(2) says
  const nb = fs.openSync(`/proc/self/fd/${fd}`, O_RDONLY | O_NONBLOCK);
  p.fds.opened(slot, nb); // never the client's: recovery closes it if we die parked
  const done = (): void => {
    p.fds.forget(slot); // before the close: recovery must never close a reused number
    fs.closeSync(nb);
  };
  const attempt = (): number => {
    try {
      return bufs.length === 1 ? fs.readSync(nb, bufs[0]!, 0, bufs[0]!.length, null) : fs.readvSync(nb, bufs, null as unknown as number);
    } catch (e) {
      return (e as { code?: string }).code === 'EAGAIN' ? PENDING : errnoOf(e, -E.EINVAL);
    }
  };
  const r = attempt();
  if (r !== PENDING) {
    done();
    return r;
  }
  // No readiness API in node:fs: poll with backoff, 0.1 ms up to 10 ms.
  let delay = 0.1;
  p.park(slot, {
    deadline: performance.now() + delay,
    fire: (rec) => {
      const got = attempt();
      if (got === PENDING) {
        delay = Math.min(delay * 2, 10);
        rec.deadline = performance.now() + delay;
      }
      return got;
    },
    dispose: done,
  });
  return PENDING;
}

function writeFrom(p: Producer, at: number, fd: number, bufs: Buffer[]): number {
  const pos = position(p, at);
  const want = total(bufs);
  const n = bufs.length === 1 ? fs.writeSync(fd, bufs[0]!, 0, want, pos) : fs.writevSync(fd, bufs, pos as number);
  if (n < want) p.short = true;
  return n;
}

const read: OpHandler = (p, at, slot) => {
  const fd = fdOf(p, at);
  return readInto(p, at, slot, fd, [p.mem(p.u64(at + 4), p.sqes[at + 6]!)]);
};

const write: OpHandler = (p, at) => writeFrom(p, at, fdOf(p, at), [p.mem(p.u64(at + 4), p.sqes[at + 6]!)]);

const readv: OpHandler = (p, at, slot) => readInto(p, at, slot, fdOf(p, at), iovecs(p, at));

const writev: OpHandler = (p, at) => writeFrom(p, at, fdOf(p, at), iovecs(p, at));

const readFixed: OpHandler = (p, at, slot) => {
  const addr = p.u64(at + 4);
  const len = p.sqes[at + 6]!;
  checkFixedBuffer(p, at, addr, len);
  return readInto(p, at, slot, fdOf(p, at), [p.mem(addr, len)]);
};

const writeFixed: OpHandler = (p, at) => {
  const addr = p.u64(at + 4);
  const len = p.sqes[at + 6]!;
  checkFixedBuffer(p, at, addr, len);
  return writeFrom(p, at, fdOf(p, at), [p.mem(addr, len)]);
};

const fsync: OpHandler = (p, at) => {
  const flags = p.sqes[at + 7]!;
  if (flags & ~abi.IORING_FSYNC_DATASYNC) return -E.EINVAL;
  const fd = fdOf(p, at);
  if (flags & abi.IORING_FSYNC_DATASYNC) fs.fdatasyncSync(fd);
  else fs.fsyncSync(fd);
  return 0;
};

const syncFileRange: OpHandler = (p, at) => {
  if (p.sqes[at + 7]! & ~7) return -E.EINVAL;
  const fd = fdOf(p, at);
  if (fs.fstatSync(fd).isFIFO()) return -E.ESPIPE;
  fs.fdatasyncSync(fd);
  return 0;
};

/** Whether `fd` is a regular file; false when fstat cannot tell (the fd is then checked per read). */
function isRegular(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens `path` into the SQE's target: a plain fd, or a direct descriptor
 * slot. The fd is recorded in the fd ledger (worker/fds.ts) the moment it
 * exists, so a worker that dies before the CQE is out does not leak it.
 */
function openInto(p: Producer, at: number, slot: number, path: Buffer, flags: number, mode: number): number {
  const target = p.sqes[at + 11]!;
  if (target === 0) {
    const fd = fs.openSync(path, flags, mode);
    p.fds.opened(slot, fd);
    return fd;
  }
  const t = p.files;
  if (!t) return -E.ENXIO;
  if (target !== abi.IORING_FILE_INDEX_ALLOC && target - 1 >= t.nr) return -E.EINVAL;
  const fd = fs.openSync(path, flags, mode);
  p.fds.opened(slot, fd);
  // One look now spares every read at the file position its own (fdOf).
  const kind = isRegular(fd) ? SLOT_OWNED | SLOT_REGULAR : SLOT_OWNED;
  if (target !== abi.IORING_FILE_INDEX_ALLOC) {
    t.install(target - 1, fd | kind);
    p.fds.installed(slot, target - 1);
    return 0;
  }
  const index = t.alloc(fd | kind);
  if (index < 0) {
    p.fds.forget(slot);
    fs.closeSync(fd);
    return -E.ENFILE;
  }
  p.fds.installed(slot, index);
  return index;
}

const openat: OpHandler = (p, at, slot) => openInto(p, at, slot, pathArg(p, at, 1, 4), p.sqes[at + 7]! | 0, p.sqes[at + 6]!);

const openat2: OpHandler = (p, at, slot) => {
  if (p.sqes[at + 6]! < abi.OPEN_HOW.size) return -E.EINVAL;
  const how = p.mem(p.u64(at + 2), abi.OPEN_HOW.size);
  const flags = how.readUInt32LE(0);
  const mode = how.readUInt32LE(8);
  const resolve = how.readUInt32LE(16);
  if (how.readUInt32LE(4) !== 0 || how.readUInt32LE(12) !== 0 || how.readUInt32LE(20) !== 0) return -E.EINVAL;
  // Unlike openat, openat2 refuses a mode that would be ignored.
  if (mode & ~0o7777 || (mode !== 0 && !(flags & O_CREAT) && (flags & O_TMPFILE) !== O_TMPFILE)) return -E.EINVAL;
  if (resolve & ~0x3f) return -E.EINVAL;
  if (resolve & ~RESOLVE_NO_SYMLINKS) return -E.EOPNOTSUPP;
  const path = pathArg(p, at, 1, 4);
  if (resolve & RESOLVE_NO_SYMLINKS) noSymlinks(path);
  return openInto(p, at, slot, path, flags | 0, mode);
};

/** -ELOOP if any existing component of `path` is a symlink. */
function noSymlinks(path: Buffer): void {
  const s = path.toString('latin1');
  const prefix = s.startsWith('/proc/self/fd/') ? s.slice(0, s.indexOf('/', 14) + 1) : s.startsWith('/') ? '/' : '';
  const parts = s.slice(prefix.length).split('/').filter((x) => x !== '' && x !== '.');
  let cur = prefix;
  for (const part of parts) {
    cur += (cur === '' || cur.endsWith('/') ? '' : '/') + part;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(Buffer.from(cur, 'latin1'));
    } catch {
      return; // missing: the open itself decides (ENOENT or create)
    }
    if (st.isSymbolicLink()) fail(E.ELOOP);
  }
}

const close: OpHandler = (p, at) => {
  const target = p.sqes[at + 11]!;
  if (target === 0) {
    fs.closeSync(p.sqes[at + 1]! | 0);
    return 0;
  }
  const t = p.files;
  if ((p.sqes[at + 1]! | 0) !== 0) return -E.EINVAL;
  if (!t) return -E.ENXIO;
  if (target - 1 >= t.nr) return -E.EINVAL;
  return t.clear(target - 1) ? 0 : -E.EBADF;
};

const statx: OpHandler = (p, at) => {
  const flags = p.sqes[at + 7]!;
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH | 0x800 | 0x6000)) return -E.EINVAL;
  const out = p.mem(p.u64(at + 2), abi.STATX.size);
  const raw = p.cstr(p.u64(at + 4));
  const dfd = p.sqes[at + 1]! | 0;
  let st: fs.BigIntStats;
  if (raw.length === 0 && flags & abi.AT_EMPTY_PATH) st = fs.fstatSync(dfd === abi.AT_FDCWD ? fail(E.EBADF) : dfd, { bigint: true });
  else {
    const path = atPath(dfd, raw);
    st = flags & abi.AT_SYMLINK_NOFOLLOW ? fs.lstatSync(path, { bigint: true }) : fs.statSync(path, { bigint: true });
  }
  writeStatx(out, st);
  return 0;
};

const fallocate: OpHandler = (p, at) => {
  const fd = fdOf(p, at);
  const mode = p.sqes[at + 6]!;
  const off = p.u64(at + 2);
  const len = p.u64(at + 4);
  const st = fs.fstatSync(fd);
  if (st.isFIFO()) return -E.ESPIPE;
  if (off < 0 || len <= 0) return -E.EINVAL;
  // Only plain allocation that grows the file can be had through write():
  // keeping the size or punching holes needs the real syscall.
  if (mode & FALLOC_FL_KEEP_SIZE || mode !== 0) return -E.EOPNOTSUPP;
  for (let pos = Math.max(st.size, off); pos < off + len; ) {
    pos += fs.writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, off + len - pos), pos);
  }
  return 0;
};

const fadvise: OpHandler = (p, at) => {
  if (p.sqes[at + 7]! > 5) return -E.EINVAL;
  if (fs.fstatSync(fdOf(p, at)).isFIFO()) return -E.ESPIPE;
  return 0; // advice only: nothing to do in userspace
};

const unlinkat: OpHandler = (p, at) => {
  const flags = p.sqes[at + 7]!;
  if (flags & ~abi.AT_REMOVEDIR) return -E.EINVAL;
  const path = pathArg(p, at, 1, 4);
  if (flags & abi.AT_REMOVEDIR) fs.rmdirSync(path);
  else fs.unlinkSync(path);
  return 0;
};

const renameat: OpHandler = (p, at) => {
  const flags = p.sqes[at + 7]!;
  if (flags & ~RENAME_NOREPLACE) return -E.EINVAL; // RENAME_EXCHANGE, WHITEOUT: not emulated
  const from = pathArg(p, at, 1, 4);
  const to = pathArg(p, at, 6, 2);
  if (flags & RENAME_NOREPLACE) {
    fs.lstatSync(from);
    if (fs.existsSync(to) || isDanglingLink(to)) return -E.EEXIST;
  }
  fs.renameSync(from, to);
  return 0;
};

function isDanglingLink(path: Buffer): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

const mkdirat: OpHandler = (p, at) => {
  fs.mkdirSync(pathArg(p, at, 1, 4), { mode: p.sqes[at + 6]! });
  return 0;
};

const symlinkat: OpHandler = (p, at) => {
  fs.symlinkSync(p.cstr(p.u64(at + 4)), pathArg(p, at, 1, 2));
  return 0;
};

const linkat: OpHandler = (p, at) => {
  const flags = p.sqes[at + 7]!;
  if (flags & ~AT_SYMLINK_FOLLOW) return -E.EINVAL;
  let from = pathArg(p, at, 1, 4);
  if (flags & AT_SYMLINK_FOLLOW) from = fs.realpathSync(from, { encoding: 'buffer' });
  fs.linkSync(from, pathArg(p, at, 6, 2));
  return 0;
};

const ftruncate: OpHandler = (p, at) => {
  const len = p.u64(at + 2);
  if (len < 0) return -E.EINVAL;
  fs.ftruncateSync(fdOf(p, at), len);
  return 0;
};

const filesUpdate: OpHandler = (p, at) => {
  const t = p.files;
  if (!t) return -E.ENXIO;
  const nr = p.sqes[at + 6]!;
  const offset = p.sqes[at + 2]!;
  const raw = p.mem(p.u64(at + 4), nr * 4);
  const alloc = offset === abi.IORING_FILE_INDEX_ALLOC;
  if (!alloc && (p.sqes[at + 3] !== 0 || offset + nr > t.nr)) return -E.EINVAL;
  let done = 0;
  for (; done < nr; done++) {
    const fd = raw.readInt32LE(done * 4);
    if (fd === abi.IORING_REGISTER_FILES_SKIP) continue;
    try {
      if (fd !== -1) fs.fstatSync(fd);
    } catch (e) {
      if (done === 0) throw e;
      break;
    }
    if (alloc) {
      const slot = fd === -1 ? -1 : t.alloc(fd);
      if (slot < 0) return done > 0 ? done : -E.ENFILE;
      raw.writeInt32LE(slot, done * 4);
    } else if (fd === -1) t.clear(offset + done);
    else t.install(offset + done, fd);
  }
  return done;
};

/** The fs opcodes and their handlers. */
export const fsOps: ReadonlyArray<readonly [number, OpHandler]> = [
  [abi.IORING_OP_READ, read],
  [abi.IORING_OP_WRITE, write],
  [abi.IORING_OP_READV, readv],
  [abi.IORING_OP_WRITEV, writev],
  [abi.IORING_OP_READ_FIXED, readFixed],
  [abi.IORING_OP_WRITE_FIXED, writeFixed],
  [abi.IORING_OP_FSYNC, fsync],
  [abi.IORING_OP_SYNC_FILE_RANGE, syncFileRange],
  [abi.IORING_OP_OPENAT, openat],
  [abi.IORING_OP_OPENAT2, openat2],
  [abi.IORING_OP_CLOSE, close],
  [abi.IORING_OP_STATX, statx],
  [abi.IORING_OP_FALLOCATE, fallocate],
  [abi.IORING_OP_FADVISE, fadvise],
  [abi.IORING_OP_UNLINKAT, unlinkat],
  [abi.IORING_OP_RENAMEAT, renameat],
  [abi.IORING_OP_MKDIRAT, mkdirat],
  [abi.IORING_OP_SYMLINKAT, symlinkat],
  [abi.IORING_OP_LINKAT, linkat],
  [abi.IORING_OP_FTRUNCATE, ftruncate],
  [abi.IORING_OP_FILES_UPDATE, filesUpdate],
];

/**
 * What supports() reports for the fs scheme. FALLOCATE runs (mode 0) but
 * is not claimed: the modes that matter (KEEP_SIZE, PUNCH_HOLE) cannot be
 * had without the syscall.
 */
export const FS_OPCODES: readonly number[] = fsOps.map(([op]) => op).filter((op) => op !== abi.IORING_OP_FALLOCATE);

/** The scheme module's export for worker threads (see OpTableModule). */
export function opTable(): OpTable {
  return { ops: fsOps, advertised: FS_OPCODES };
}

/** The fs scheme, as the worker transport is told about it. */
export const fsSchemeTable: SchemeTable = { url: import.meta.url, opcodes: FS_OPCODES };
