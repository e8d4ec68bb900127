// The parts of FileHandle's I/O that need none of the handle's private
// state, kept out of the class so that filehandle.ts stays about the handle
// (its descriptor, references and ops): read()'s job and completion, node's
// result objects, readv/writev's scatter and gather, the fs-module shim
// node's streams run on, and the open-use-close of a handle made for one call.

import * as fs from 'node:fs';
import { Job } from '../executor/executor.js';
import { errnoError } from '../errors.js';
import type { FsRuntime, Mem } from './runtime.js';
import type { FileHandle } from './filehandle.js';

/** Drops a reference taken when an op started (FileHandle's; here for readDone). */
export const kUnref = Symbol('kUnref');

export interface ReadResult<T> {
  bytesRead: number;
  buffer: T;
}
export interface WriteResult<T> {
  bytesWritten: number;
  buffer: T;
}

/** One FileHandle.read(): the job is the op's whole state. */
export class ReadJob extends Job {
  fh!: { readonly rt: FsRuntime; [kUnref](): void };
  mem!: Mem;
  buffer!: ArrayBufferView;
  offset = 0;
}

export function readDone(j: Job): ReadResult<ArrayBufferView> {
  const job = j as ReadJob;
  const res = job.res[0]!;
  const mem = job.mem;
  const buffer = job.buffer;
  if (res > 0 && !job.settled) {
    // Room left in the caller's buffer now: it may have been detached
    // (byteLength 0) or resized since the read was submitted.
    const room = buffer.byteLength - job.offset;
    const n = res < room ? res : room;
    if (n > 0) {
      const src = n === mem.buf.length ? mem.buf : mem.buf.subarray(0, n);
      if (buffer instanceof Uint8Array) buffer.set(src, job.offset);
      else new Uint8Array(buffer.buffer, buffer.byteOffset + job.offset, n).set(src);
    }
  }
  const fh = job.fh;
  fh.rt.put(mem);
  fh[kUnref]();
  if (res < 0) throw errnoError(res, 'read');
  return readResult(res, buffer);
}

/** node's { __proto__: null, bytesRead, buffer } (built the faster way: the literal form is ~3x slower). */
export function readResult(bytesRead: number, buffer: unknown): ReadResult<ArrayBufferView> {
  const r = Object.create(null) as ReadResult<ArrayBufferView>;
  r.bytesRead = bytesRead;
  r.buffer = buffer as ArrayBufferView;
  return r;
}

/** node's fs.read at a bigint position: bytes read. */
export function fsRead(fd: number, b: Buffer, len: number, pos: bigint): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, b, 0, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
}

/** readv: `n` bytes read into one chunk, placed across `buffers` as readv(2) would. */
export function scatter(src: Uint8Array, n: number, buffers: ArrayBufferView[]): void {
  let done = 0;
  for (const b of buffers) {
    if (done >= n) break;
    const k = Math.min(b.byteLength, n - done);
    if (k > 0) new Uint8Array(b.buffer, b.byteOffset, k).set(src.subarray(done, done + k));
    done += k;
  }
}

/** writev: `buffers` in one array, to go out in one write. */
export function gather(buffers: ArrayBufferView[], total: number): Uint8Array {
  const all = new Uint8Array(total);
  let at = 0;
  for (const b of buffers) {
    all.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
    at += b.byteLength;
  }
  return all;
}

/** The fs-module methods node's ReadStream/WriteStream call, served by the handle (so through the ring). */
export function streamOps(fh: FileHandle): Record<string, unknown> {
  type Cb = (err: Error | null, ...rest: unknown[]) => void;
  return {
    open: (_p: unknown, _f: unknown, _m: unknown, cb: Cb) => cb(new Error('open() is not supported on a FileHandle stream')),
    close: (_fd: number, cb: Cb) => {
      fh.close().then(() => cb(null), cb);
    },
    fsync: (_fd: number, cb: Cb) => {
      fh.sync().then(() => cb(null), cb);
    },
    read: (_fd: number, buf: Uint8Array, off: number, len: number, pos: number | null, cb: Cb) => {
      fh.read(buf, off, len, pos).then((r) => cb(null, r.bytesRead, r.buffer), (e) => cb(e, 0, buf));
    },
    write: (_fd: number, buf: Uint8Array, off: number, len: number, pos: number | null, cb: Cb) => {
      fh.write(buf, off, len, pos).then((r) => cb(null, r.bytesWritten, r.buffer), (e) => cb(e, 0, buf));
    },
    writev: (_fd: number, bufs: Uint8Array[], pos: number | null, cb: Cb) => {
      fh.writev(bufs, pos).then((r) => cb(null, r.bytesWritten, r.buffers), (e) => cb(e, 0, bufs));
    },
  };
}

/** Runs `op` on a handle opened for one call, then closes it; the op's error wins over close's (node's way). */
export async function closeAfter(fh: FileHandle, op: () => Promise<void>): Promise<void> {
  let opError: unknown = null;
  try {
    await op();
  } catch (e) {
    opError = e;
  }
  try {
    await fh.close();
  } catch (closeError) {
    if (opError === null) throw closeError;
  }
  if (opError !== null) throw opError;
}
