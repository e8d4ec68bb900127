// The node:fs/promises API on the ring: same names, arguments, options,
// results and errors. Calls with an io_uring op go through the ring (many
// in one tick = one io_uring_enter); the rest are node:fs/promises's own
// functions (see README.md, "node:fs/promises, on the ring"). If no ring can
// be opened at all, every call is node's. This file is the facade: the
// readFile and writeFile chains live in readfile.ts and writefile.ts.

import * as nodeFsp from 'node:fs/promises';
import type { Stats, BigIntStats } from 'node:fs';
import * as abi from '../abi/abi.js';
import * as prep from '../abi/prep.js';
import { errnoError } from '../errors.js';
import { rt, type FsRuntime, EBADF } from './runtime.js';
import { readFileChain } from './readfile.js';
import { writeFileImpl, writeFileToHandle } from './writefile.js';
import { FileHandle, setHandleFileOps } from './filehandle.js';
import { closeAfter } from './handle-io.js';
import { statsFrom } from './stats.js';
import { checkAborted, ERR_UNKNOWN_ENCODING } from './errors.js';
import { symlinkTypeFirst, readFileIntoBuffer, statHonoursThrowIfNoEntry } from './compat.js';
import { readFileIntoUserBuffer, validateReadFileBufferOptions } from './readfile-buffer.js';
import {
  getOptions, getValidatedPath, pathText, stringToFlags, parseFileMode, validateBoolean, validateInteger,
  validateRmdirOptions, validateSymlinkType, validateOneOf, kSymlinkTypes, O, type FsOptions,
} from './validate.js';
import * as self from './promises.js';

export { FileHandle };

type Path = string | Buffer | URL;

const READFILE_DEFAULTS: FsOptions = { flag: 'r' };
const WRITEFILE_DEFAULTS: FsOptions = { encoding: 'utf8', mode: 0o666, flag: 'w', flush: false };
const APPENDFILE_DEFAULTS: FsOptions = { encoding: 'utf8', mode: 0o666, flag: 'a' };

/** node's own FileHandle (from node:fs/promises): served by node. */
function isNodeFileHandle(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !(x instanceof FileHandle) && (x as object).constructor?.name === 'FileHandle' && typeof (x as { fd?: unknown }).fd === 'number';
}

// ---------------------------------------------------------------- readFile

export function readFile(path: Path | FileHandle, options?: unknown): Promise<Buffer | string> {
  const r = rt();
  if (r === null || isNodeFileHandle(path)) return nodeFsp.readFile(path as Path, options as never) as Promise<Buffer | string>;
  try {
    // Fast path: readFile('string path') with no options.
    if (typeof path === 'string' && options === undefined && !path.includes('\u0000')) {
      return readFileChain(r, path, path, O.O_RDONLY, undefined, undefined);
    }
    const o = getOptions(options, READFILE_DEFAULTS);
    if (readFileIntoBuffer) validateReadFileBufferOptions(o);
    const flag = o.flag || 'r';
    if (path instanceof FileHandle) return readFileHandle(path, o);
    checkAborted(o.signal);
    if (readFileIntoBuffer && o.buffer !== undefined) return readFileOpened(path, flag, o);
    const p = getValidatedPath(path);
    const flags = stringToFlags(flag);
    return readFileChain(r, p, pathText(p), flags, o.encoding, o.signal);
  } catch (e) {
    return Promise.reject(e);
  }
}

async function readFileHandle(fh: FileHandle, o: FsOptions): Promise<Buffer | string> {
  // node builds a StringDecoder(encoding) first, which refuses 'buffer'.
  if (o.encoding === 'buffer') throw ERR_UNKNOWN_ENCODING('buffer');
  if (readFileIntoBuffer && o.buffer !== undefined) return readFileIntoUserBuffer(fh, o);
  checkAborted(o.signal);
  return fh.readAll(o.encoding, o.signal);
}

/** readFile(path) the way node does it: open, read through the handle, close (an op's error wins). */
async function readFileOpened(path: Path, flag: string | number, o: FsOptions): Promise<Buffer | string> {
  const fh = await open(path, flag, 0o666);
  let result: Buffer | string;
  try {
    result = await readFileHandle(fh, o);
  } catch (opError) {
    await fh.close().catch(() => {});
    throw opError;
  }
  await fh.close();
  return result;
}

// --------------------------------------------------------------- writeFile

export function writeFile(path: Path | FileHandle, data: unknown, options?: unknown): Promise<void> {
  const r = rt();
  if (r === null || isNodeFileHandle(path)) return nodeFsp.writeFile(path as Path, data as never, options as never);
  try {
    const o = getOptions(options, WRITEFILE_DEFAULTS);
    return writeFileImpl(r, path, data, o, o.flag || 'w');
  } catch (e) {
    return Promise.reject(e);
  }
}

export function appendFile(path: Path | FileHandle, data: unknown, options?: unknown): Promise<void> {
  const r = rt();
  if (r === null || isNodeFileHandle(path)) return nodeFsp.appendFile(path as Path, data as never, options as never);
  try {
    const o = { ...getOptions(options, APPENDFILE_DEFAULTS) };
    o.flag = o.flag || 'a';
    return writeFileImpl(r, path, data, o, o.flag);
  } catch (e) {
    return Promise.reject(e);
  }
}

// FileHandle's readFile/writeFile: the same logic as the functions above.
setHandleFileOps(
  (fh, options) => {
    try {
      const o = getOptions(options, READFILE_DEFAULTS);
      if (readFileIntoBuffer) validateReadFileBufferOptions(o);
      return readFileHandle(fh, o);
    } catch (e) {
      return Promise.reject(e);
    }
  },
  (fh, data, options) => {
    try {
      return writeFileToHandle(fh, data, getOptions(options, WRITEFILE_DEFAULTS));
    } catch (e) {
      return Promise.reject(e);
    }
  },
);

// -------------------------------------------------------------------- open

export function open(path: Path, flags?: string | number, mode?: string | number): Promise<FileHandle> {
  const r = rt();
  if (r === null) return nodeFsp.open(path, flags, mode) as unknown as Promise<FileHandle>;
  try {
    const p = getValidatedPath(path);
    const f = stringToFlags(flags);
    const m = parseFileMode(mode, 'mode', 0o666);
    return r.open(p, pathText(p), f, m).then((fd) => new FileHandle(r, fd));
  } catch (e) {
    return Promise.reject(e);
  }
}

// --------------------------------------------------------- path-only ops

/** One SQE on one or two paths (in pool memory until the CQE). */
function pathOp(
  r: FsRuntime,
  syscall: string,
  a: string | Uint8Array,
  b: string | Uint8Array | null,
  errPath: string | Uint8Array,
  errDest: string | Uint8Array | null,
  write: (s: Uint32Array, at: number, pa: number, pb: number) => void,
): Promise<number> {
  const ma = r.pathMem(a);
  const mb = b === null ? null : r.pathMem(b);
  return r.op(syscall, (s, at) => write(s, at, ma.addr, mb ? mb.addr : 0), pathText(errPath), errDest === null ? undefined : pathText(errDest), ma, mb);
}

function toVoid(): void {}

interface StatOpts {
  bigint?: boolean;
  /** false: a missing path resolves undefined, on a Node whose stat() does that (compat.ts). */
  throwIfNoEntry?: boolean;
}

export function stat(path: Path, options: StatOpts & { throwIfNoEntry: false }): Promise<Stats | BigIntStats | undefined>;
export function stat(path: Path, options?: StatOpts): Promise<Stats | BigIntStats>;
export function stat(path: Path, options: StatOpts = { bigint: false }): Promise<Stats | BigIntStats | undefined> {
  return statImpl(path, options, 'stat', 0);
}

export function lstat(path: Path, options: { bigint?: boolean } = { bigint: false }): Promise<Stats | BigIntStats> {
  return statImpl(path, options, 'lstat', abi.AT_SYMLINK_NOFOLLOW) as Promise<Stats | BigIntStats>; // no throwIfNoEntry
}

function statImpl(path: Path, options: StatOpts, syscall: 'stat' | 'lstat', flags: number): Promise<Stats | BigIntStats | undefined> {
  const r = rt();
  if (r === null) return nodeFsp[syscall](path, options as never);
  try {
    const p = getValidatedPath(path);
    const bigint = !!options.bigint;
    const noThrow = syscall === 'stat' && options.throwIfNoEntry === false;
    const pm = r.pathMem(p);
    const out = r.get(256);
    return r.statx(abi.AT_FDCWD, pm, flags, out, syscall, pathText(p)).then(
      () => {
        const st = statsFrom(out.buf, 0, bigint);
        r.put(out);
        r.put(pm);
        return st;
      },
      (e) => {
        r.put(out);
        r.put(pm);
        if (noThrow && isNoEntry(e)) return statNoEntry(e);
        throw e;
      },
    );
  } catch (e) {
    return Promise.reject(e);
  }
}

function isNoEntry(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** stat(missing, { throwIfNoEntry: false }): undefined if node's stat() says so, else the error. */
function statNoEntry(e: unknown): Promise<undefined> {
  return statHonoursThrowIfNoEntry().then((honoured) => {
    if (honoured) return undefined;
    throw e;
  });
}

export function unlink(path: Path): Promise<void> {
  const r = rt();
  if (r === null) return nodeFsp.unlink(path);
  try {
    const p = getValidatedPath(path);
    return pathOp(r, 'unlink', p, null, p, null, (s, at, pa) => prep.prep_unlinkat(s, at, abi.AT_FDCWD, pa, 0)).then(toVoid);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function rename(oldPath: Path, newPath: Path): Promise<void> {
  const r = rt();
  if (r === null) return nodeFsp.rename(oldPath, newPath);
  try {
    const a = getValidatedPath(oldPath, 'oldPath');
    const b = getValidatedPath(newPath, 'newPath');
    return pathOp(r, 'rename', a, b, a, b, (s, at, pa, pb) => prep.prep_renameat(s, at, abi.AT_FDCWD, pa, abi.AT_FDCWD, pb, 0)).then(toVoid);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function mkdir(path: Path, options?: unknown): Promise<string | undefined> {
  const r = rt();
  if (r === null) return nodeFsp.mkdir(path, options as never);
  try {
    let o = options;
    if (typeof o === 'number' || typeof o === 'string') o = { mode: o };
    const { recursive = false, mode = 0o777 } = (o || {}) as { recursive?: unknown; mode?: unknown };
    const p = getValidatedPath(path);
    validateBoolean(recursive, 'options.recursive');
    const m = parseFileMode(mode, 'mode', 0o777);
    // mkdir -p (which directory came first, ENOTDIR along the way): node's.
    if (recursive) return nodeFsp.mkdir(path, options as never);
    return pathOp(r, 'mkdir', p, null, p, null, (s, at, pa) => prep.prep_mkdirat(s, at, abi.AT_FDCWD, pa, m)).then(() => undefined);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function rmdir(path: Path, options?: unknown): Promise<void> {
  const r = rt();
  if (r === null) return nodeFsp.rmdir(path, options as never);
  try {
    const p = getValidatedPath(path);
    const o = validateRmdirOptions(options);
    if (o.recursive) return nodeFsp.rmdir(path, options as never);
    return pathOp(r, 'rmdir', p, null, p, null, (s, at, pa) => prep.prep_unlinkat(s, at, abi.AT_FDCWD, pa, abi.AT_REMOVEDIR)).then(toVoid);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function symlink(target: Path, path: Path, type?: string | null): Promise<void> {
  const r = rt();
  if (r === null) return nodeFsp.symlink(target, path, type);
  try {
    // Which rule, and checked before or after the paths: compat.ts.
    if (symlinkTypeFirst) validateOneOf(type, 'type', kSymlinkTypes);
    const t = getValidatedPath(target, 'target');
    const p = getValidatedPath(path);
    if (!symlinkTypeFirst) validateSymlinkType(typeof type === 'string' ? type : null);
    return pathOp(r, 'symlink', t, p, t, p, (s, at, pa, pb) => prep.prep_symlinkat(s, at, pa, abi.AT_FDCWD, pb)).then(toVoid);
  } catch (e) {
    return Promise.reject(e);
  }
}

export function link(existingPath: Path, newPath: Path): Promise<void> {
  const r = rt();
  if (r === null) return nodeFsp.link(existingPath, newPath);
  try {
    const a = getValidatedPath(existingPath, 'existingPath');
    const b = getValidatedPath(newPath, 'newPath');
    return pathOp(r, 'link', a, b, a, b, (s, at, pa, pb) => prep.prep_linkat(s, at, abi.AT_FDCWD, pa, abi.AT_FDCWD, pb, 0)).then(toVoid);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** truncate(path, len): node opens 'r+', validates len, ftruncates, closes. One chain here. */
export function truncate(path: Path, len: unknown = 0): Promise<void> {
  const r = rt();
  if (r === null) return nodeFsp.truncate(path, len as number);
  try {
    const p = getValidatedPath(path);
    let bad: unknown = null;
    try {
      validateInteger(len, 'len');
    } catch (e) {
      bad = e;
    }
    if (bad !== null || !r.ftruncate || !r.direct) {
      // node's order: the open's error first, then the len check.
      return open(p as Path, 'r+').then((fh) =>
        closeAfter(fh, async () => {
          if (bad !== null) throw bad;
          await fh.truncate(len);
        }),
      );
    }
    const slot = r.takeSlot();
    if (slot < 0) return open(p as Path, 'r+').then(async (fh) => {
      try {
        await fh.truncate(len);
      } finally {
        await fh.close();
      }
    });
    const n = Math.max(0, len as number);
    const ex = r.ex;
    const pm = r.pathMem(p);
    const job = ex.begin('open');
    let at = ex.add(job);
    prep.prep_openat_direct(ex.sqes, at, abi.AT_FDCWD, pm.addr, O.O_RDWR, 0o666, slot);
    prep.sqe_set_flags(ex.sqes, at, abi.IOSQE_IO_LINK);
    at = ex.add(job);
    prep.prep_ftruncate(ex.sqes, at, slot, n);
    prep.sqe_set_flags(ex.sqes, at, abi.IOSQE_FIXED_FILE | abi.IOSQE_IO_HARDLINK);
    at = ex.add(job);
    prep.prep_close_direct(ex.sqes, at, slot);
    const ptext = pathText(p);
    job.done = (j) => {
      const [ro, rt_, rc] = j.res as [number, number, number];
      r.slotDone(slot, ro >= 0, rc);
      r.put(pm);
      if (ro < 0) throw errnoError(ro, 'open', ptext);
      if (rt_ < 0) throw errnoError(rt_, 'ftruncate');
      if (rc < 0 && rc !== EBADF) throw errnoError(rc, 'close');
    };
    return ex.commit<void>(job);
  } catch (e) {
    return Promise.reject(e);
  }
}

// ------------------------------------------------- delegated to node:fs

// No io_uring op (getdents, readlink, realpath, access/faccessat, chmod,
// chown, utimes, copy_file_range, ...), or node's multi-step semantics
// (rm/cp trees, mkdtemp): node:fs/promises's own functions.
export const access = nodeFsp.access;
export const copyFile = nodeFsp.copyFile;
export const cp = nodeFsp.cp;
export const rm = nodeFsp.rm;
export const readdir = nodeFsp.readdir;
export const readlink = nodeFsp.readlink;
export const realpath = nodeFsp.realpath;
export const opendir = nodeFsp.opendir;
export const mkdtemp = nodeFsp.mkdtemp;
export const chmod = nodeFsp.chmod;
export const lchmod = nodeFsp.lchmod;
export const chown = nodeFsp.chown;
export const lchown = nodeFsp.lchown;
export const utimes = nodeFsp.utimes;
export const lutimes = nodeFsp.lutimes;
export const statfs = nodeFsp.statfs;
export const watch = nodeFsp.watch;
export const constants = nodeFsp.constants;
// Only in newer node:fs/promises (Node 24 has both, Node 20 neither):
// undefined on a Node without them, as `fsPromises.glob` is there (an ES
// module cannot export a name conditionally). Typed loosely: the @types/node
// we build with predates them.
type Newer = Partial<Record<'glob' | 'mkdtempDisposable', (...args: unknown[]) => unknown>>;
export const glob = (nodeFsp as unknown as Newer).glob;
export const mkdtempDisposable = (nodeFsp as unknown as Newer).mkdtempDisposable;

/**
 * As node:fs/promises's default export: every function above in one plain
 * object, for `import fs from 'uring/...'`-style code ported from node.
 * Built from the module's own namespace, after every binding above exists.
 */
const api: Record<string, unknown> = {};
// Reflect.ownKeys, not Object.keys: the latter reads every binding, and
// `default` is still uninitialized here.
for (const k of Reflect.ownKeys(self)) if (typeof k === 'string' && k !== 'default') api[k] = (self as Record<string, unknown>)[k];
export default api;
