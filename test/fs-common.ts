// Shared by the test/fs*.test.ts files: outcome capture for differential
// comparison with node:fs/promises, temp dirs, a seeded PRNG, and the fs
// runtime's leak counters.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { rt, runtimeFailure, type FsRuntime } from '../src/fs/runtime.js';
import { readFileStats } from '../src/fs/readfile.js';
import { WorkerBackend } from '../src/backends/worker.js';
import * as prep from '../src/abi/prep.js';
import assert from 'node:assert/strict';

export const BACKEND = process.env.URING_BACKEND ?? 'kernel';

/** The fs runtime, or a skip reason (worker backend not available yet). Fails on the kernel backend. */
export function runtimeOrSkip(): FsRuntime | string {
  const r = rt();
  if (r) return r;
  const why = runtimeFailure()?.message ?? 'unknown';
  if (BACKEND === 'worker') return `the worker backend is not available: ${why}`;
  throw new Error(`the fs runtime could not open a ring: ${why}`);
}

export { mulberry32 } from './prng.js';

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `uring-fs-${tag}-`));
}

export interface Outcome {
  ok: boolean;
  value?: unknown;
  error?: Record<string, unknown>;
}

/** Everything about an error a caller can observe, minus the stack. */
export function describeError(e: unknown, norm: (s: string) => string = (s) => s): Record<string, unknown> {
  if (!(e instanceof Error)) return { thrown: String(e) };
  const err = e as Error & Record<string, unknown>;
  const out: Record<string, unknown> = {
    name: err.name,
    message: norm(err.message),
    ctor: (err.constructor as { name?: string } | undefined)?.name,
    proto: Object.getPrototypeOf(Object.getPrototypeOf(err))?.constructor?.name,
    keys: Object.keys(err).sort().join(','),
    str: norm(String(err)),
  };
  for (const k of ['code', 'errno', 'syscall', 'path', 'dest']) {
    if (k in err) out[k] = typeof err[k] === 'string' ? norm(err[k] as string) : err[k];
  }
  if ('cause' in err) out.cause = err.cause === undefined ? 'undefined' : typeof err.cause;
  return out;
}

export async function capture(f: () => unknown, norm?: (s: string) => string, mapValue?: (v: unknown) => unknown): Promise<Outcome> {
  try {
    const p = f();
    // Like node, failures must be rejections, never synchronous throws.
    if (!(p instanceof Promise)) return { ok: false, error: { notAPromise: typeof p } };
    const v = await p;
    return { ok: true, value: mapValue ? mapValue(v) : v };
  } catch (e) {
    return { ok: false, error: describeError(e, norm) };
  }
}

/** Resolves when the fs runtime has nothing in flight (chains run on after an abort). */
export async function quiesce(r: FsRuntime): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    const s = r.ex.stats();
    if (s.inflight === 0 && s.staged === 0 && readFileStats().active === 0 && r.slotsBusy === 0) return;
    await new Promise((res) => setTimeout(res, 2));
  }
  throw new Error(`fs runtime did not quiesce: ${JSON.stringify({ ...r.ex.stats(), ...readFileStats(), slotsBusy: r.slotsBusy })}`);
}

/** Observable shape of a result, comparable across twin dirs. */
export function shape(v: unknown, depth = 0): unknown {
  if (v instanceof fs.Stats || (v && typeof v === 'object' && 'isFile' in (v as object) && 'mode' in (v as object))) {
    const s = v as fs.Stats;
    return {
      proto: Object.getPrototypeOf(s)?.constructor?.name,
      mode: s.mode, size: s.size, nlink: s.nlink, uid: s.uid, gid: s.gid, blksize: s.blksize,
      file: s.isFile(), dir: s.isDirectory(), link: s.isSymbolicLink(), keys: Object.keys(s).join(','),
      types: Object.values(s).map((x) => (x instanceof Date ? 'Date' : typeof x)).join(','),
    };
  }
  if (v && typeof v === 'object' && typeof (v as { fd?: unknown }).fd === 'number' && typeof (v as { close?: unknown }).close === 'function') return '<FileHandle>';
  if (Buffer.isBuffer(v)) return { buffer: digest(v), byteLength: v.byteLength };
  if (ArrayBuffer.isView(v)) return { view: v.constructor.name, bytes: digest(Buffer.from(v.buffer, v.byteOffset, v.byteLength)) };
  if (typeof v === 'string' && v.length > 200) return { string: digest(Buffer.from(v, 'utf16le')), length: v.length, head: v.slice(0, 40) };
  if (Array.isArray(v)) return v.map((x) => shape(x, depth + 1));
  if (v && typeof v === 'object' && depth < 3) {
    const out: Record<string, unknown> = { __proto: Object.getPrototypeOf(v) === null ? 'null' : Object.getPrototypeOf(v).constructor?.name };
    for (const k of Object.keys(v)) out[k] = shape((v as Record<string, unknown>)[k], depth + 1);
    return out;
  }
  return v;
}

/** Short, exact fingerprint of bytes (hex when small). */
export function digest(b: Buffer): string {
  if (b.length <= 64) return b.toString('hex');
  return `sha1:${createHash('sha1').update(b).digest('hex')}:${b.subarray(0, 16).toString('hex')}`;
}

/** Files, dirs and links under `dir`: type, mode, size, contents, link targets. */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p, r);
      } else {
        const body = st.size > 16 << 20 ? `(${st.size} bytes)` : digest(fs.readFileSync(p));
        out[r] = `file ${(st.mode & 0o7777).toString(8)} ${st.nlink} ${body}`;
      }
    }
  };
  walk(dir, '');
  return out;
}

/** Replaces the twin dir in every string of a shaped value. */
export function norm(v: unknown, dir: string): unknown {
  if (typeof v === 'string') return v.split(dir).join('<D>');
  if (Array.isArray(v)) return v.map((x) => norm(x, dir));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = norm((v as Record<string, unknown>)[k], dir);
    return out;
  }
  return v;
}

/**
 * Resolves once the runtime's scheme workers (worker backend) have all
 * booted: each opens fds of its own (its event loop's) as it starts, so a
 * process fd count taken before then is not a baseline (a flake in the fd
 * leak checks).
 */
export async function workersUp(r: FsRuntime): Promise<void> {
  if (r.ex.backend instanceof WorkerBackend) await r.ex.backend.host.allReady();
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** The process's fds and what each names (for a readable leak report). */
export function openFds(): string[] {
  return fs.readdirSync('/proc/self/fd').map((f) => {
    try {
      return `${f} -> ${fs.readlinkSync(`/proc/self/fd/${f}`)}`;
    } catch {
      return f;
    }
  });
}

/**
 * Everything back after a test: no process fd leaked, every direct
 * descriptor slot free and empty in the kernel's table (S7), all pool memory
 * returned (what is not in the runtime's caches is where it started).
 */
export async function assertClean(r: FsRuntime, fds0: number | string[], poolInUse0?: number): Promise<void> {
  await quiesce(r);
  if (typeof fds0 === 'number') assert.equal(openFdCount(), fds0, `process fds leaked (or closed): ${openFds().join(', ')}`);
  else {
    const now = openFds();
    const gone = fds0.filter((f) => !now.includes(f));
    const added = now.filter((f) => !fds0.includes(f));
    assert.equal(now.length, fds0.length, `process fds leaked: ${added.join(', ')}; closed: ${gone.join(', ')}`);
  }
  assert.equal(r.slotsBusy, 0, 'direct-descriptor slots still busy');
  assert.equal(r.memOutstanding, 0, 'pool memory not given back');
  if (poolInUse0 !== undefined) assert.equal(r.pool.stats().inUse - r.cachedBytes, poolInUse0, 'pool memory not back at its starting level');
  if (r.direct) {
    assert.equal(r.freeSlotList.length, r.slotCount, 'free slot list incomplete');
    // Ask the kernel: closing a free slot must fail with EBADF (nothing installed).
    const slots = [...r.freeSlotList];
    const res = await Promise.all(
      slots.map((s) => r.op('close', (q, at) => prep.prep_close_direct(q, at, s)).then(() => 0, (e: { errno: number }) => e.errno)),
    );
    const installed = slots.filter((_, i) => res[i] !== -9);
    assert.deepEqual(installed, [], 'direct descriptors left installed in the kernel table');
  }
}

/** Pool bytes held outside the runtime's caches: a baseline for assertClean(). */
export function poolBaseline(r: FsRuntime): number {
  return r.pool.stats().inUse - r.cachedBytes;
}
