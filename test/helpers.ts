// Shared helpers for the ring/executor tests: temp dirs, FIFOs, forced GC, a
// seeded PRNG, node:fs error comparison, and a way back from an op's
// promise to its executor job. Nothing here mocks io_uring.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { Ring } from '../src/index.js';
import type { Job } from '../src/executor/executor.js';
import { mulberry32 } from './prng.js';

/** The backend the suite runs on (scripts/test.mjs sets URING_BACKEND). */
export const BACKEND = process.env.URING_BACKEND ?? 'kernel';

let unavailable: string | false | undefined;

/**
 * A skip reason when the suite runs on the worker backend and that backend
 * is not there yet (ERR_URING_UNAVAILABLE); false otherwise. Never skips on
 * the kernel backend: there, a ring that cannot open is a failure.
 */
export function backendUnavailable(): string | false {
  if (unavailable !== undefined) return unavailable;
  unavailable = false;
  if (BACKEND === 'worker') {
    try {
      const r = new Ring({ entries: 2 });
      void r.close();
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_URING_UNAVAILABLE') throw e;
      unavailable = `the worker backend is not available: ${(e as Error).message}`;
    }
  }
  return unavailable;
}

/** Reproducible randomness: a failing seed can be replayed exactly. */
export { mulberry32 } from './prng.js';

/** `n` pseudo-random bytes from `seed`. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) >>> 0;
  return out;
}

/** A fresh temp dir, removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }, prefix = 'uring-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Closes fds when the test ends, ignoring ones already closed. */
/**
 * What `fd` refers to now (device and inode), or null if it is not open.
 * Fd numbers are process-wide and reused at once: on the worker backend, a
 * scheme worker (or node loading a worker's modules) may take a number the
 * moment a test's close frees it.
 */
export function fdIdentity(fd: number): string | null {
  try {
    const s = fs.fstatSync(fd);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

/**
 * Closes the fds after the test, each only if it still refers to the file
 * it did now. A test may close one itself (through the ring); closing its
 * number again could close whatever another thread opened since.
 */
export function closeLater(t: { after(fn: () => void): void }, ...fds: number[]): void {
  const ids = fds.map(fdIdentity);
  t.after(() => {
    fds.forEach((fd, i) => {
      if (ids[i] === null || fdIdentity(fd) !== ids[i]) return;
      try {
        fs.closeSync(fd);
      } catch {
        // closed meanwhile
      }
    });
  });
}

/** `fd`, which referred to the file `id`, is closed (its number may already be another thread's). */
export function assertFdClosed(fd: number, id: string | null, message: string): void {
  assert.ok(id !== null, 'the fd was open before');
  assert.notEqual(fdIdentity(fd), id, message);
}

/** An fd number no process can have open: RLIMIT_NOFILE is capped below 2^31 - 64 (fs.nr_open). */
export const NEVER_OPEN_FD = 2 ** 31 - 2;

let gcFn: (() => void) | null = null;

/** A full, forced garbage collection (the suite runs with --expose-gc). */
export function gc(): void {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

/** A FIFO in `dir`: `fd` is O_RDWR and blocking (for the ring: reads wait for data),
 * `rd`/`wr` are non-blocking ends for node:fs to peek and feed without ever blocking. */
export interface Fifo {
  path: string;
  fd: number;
  rd: number;
  wr: number;
}

export function makeFifo(t: { after(fn: () => void): void }, dir: string, name = 'fifo'): Fifo {
  const p = path.join(dir, name);
  execFileSync('mkfifo', [p]);
  // O_RDWR on a FIFO never blocks on Linux, and keeps both ends open.
  const fd = fs.openSync(p, fs.constants.O_RDWR);
  const rd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const wr = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  closeLater(t, fd, rd, wr);
  return { path: p, fd, rd, wr };
}

/** Everything currently buffered in a FIFO, read without blocking. */
export function drainFifo(f: Fifo): Buffer {
  const parts: Buffer[] = [];
  const b = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(f.rd, b, 0, b.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw e;
    }
    if (n <= 0) break;
    parts.push(Buffer.from(b.subarray(0, n)));
  }
  return Buffer.concat(parts);
}

/** The error a synchronous node:fs call throws. */
export function fsError(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  assert.fail('the node:fs call was expected to throw');
}

/** The own enumerable fields node:fs puts on a system error, plus the message. */
export function errorShape(e: unknown): Record<string, unknown> {
  const err = e as Error & Record<string, unknown>;
  assert.ok(err instanceof Error, `expected an Error, got ${String(e)}`);
  const out: Record<string, unknown> = { message: err.message };
  for (const k of ['errno', 'code', 'syscall', 'path', 'dest']) if (err[k] !== undefined) out[k] = err[k];
  return out;
}

/** `p` rejects with exactly the error (shape and message) node:fs gives. */
export async function rejectsLikeFs(p: Promise<unknown>, expected: NodeJS.ErrnoException): Promise<void> {
  const err = await p.then(
    (v) => assert.fail(`expected ${expected.code}, resolved with ${String(v)}`),
    (e: unknown) => e,
  );
  assert.deepEqual(errorShape(err), errorShape(expected));
}

/** `p` rejects with a system error of this code, with Node's shape. */
export async function rejectsErrno(
  p: Promise<unknown>,
  want: { code: string; syscall: string; path?: string; dest?: string },
): Promise<Error & Record<string, unknown>> {
  const err = (await p.then(
    (v) => assert.fail(`expected ${want.code}, resolved with ${String(v)}`),
    (e: unknown) => e,
  )) as Error & Record<string, unknown>;
  assert.ok(err instanceof Error);
  assert.equal(err.code, want.code, err.message);
  assert.equal(err.syscall, want.syscall);
  assert.equal(err.errno, -(os.constants.errno as Record<string, number>)[want.code]!);
  assert.equal(err.path, want.path);
  assert.equal(err.dest, want.dest);
  let msg = `${want.code}: `;
  assert.ok(err.message.startsWith(msg), err.message);
  msg = `, ${want.syscall}` + (want.path !== undefined ? ` '${want.path}'` : '') + (want.dest !== undefined ? ` -> '${want.dest}'` : '');
  assert.ok(err.message.endsWith(msg), `${err.message} should end with ${msg}`);
  return err;
}

/** A call that must return a promise (never throw) which rejects with `code`. */
export async function rejectsWithCode(fn: () => Promise<unknown>, code: string): Promise<Error> {
  let p: Promise<unknown>;
  try {
    p = fn();
  } catch (e) {
    assert.fail(`expected a rejected promise (${code}), but the call threw synchronously: ${(e as Error).message}`);
  }
  assert.ok(p instanceof Promise, 'expected a promise');
  const err = (await p.then(
    (v) => assert.fail(`expected ${code}, resolved with ${String(v)}`),
    (e: unknown) => e,
  )) as Error & { code?: string };
  assert.equal(err.code, code, err.message);
  return err;
}

/** The executor job behind a promise a Ring method returned. */
export function jobOf(p: Promise<unknown>): Job {
  const sym = Object.getOwnPropertySymbols(p).find((s) => s.description === 'uring.job');
  assert.ok(sym, 'the promise carries no job tag');
  return (p as unknown as Record<symbol, Job>)[sym];
}

/** One turn of the event loop (after the ring's own setImmediate flush). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Turns the loop until `pred()` holds, up to `limit` turns (small sleeps, no timing assertion). */
export async function until(pred: () => boolean, what: string, limit = 2000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, i < 20 ? 0 : 5));
  }
  assert.fail(`never happened: ${what}`);
}

/** Waits until nothing is in flight or staged on `ring`. */
export function settled(ring: Ring): Promise<void> {
  return until(() => {
    const s = ring.stats();
    return s.inflight === 0 && s.staged === 0;
  }, 'the ring drained');
}

/** Skips the test when the backend lacks `opcode`; returns whether it may run. */
export function need(ring: Ring, t: { skip(msg?: string): void }, opcode: number, name: string): boolean {
  if (ring.supports(opcode)) return true;
  t.skip(`the ${ring.backend.name} backend does not support ${name}`);
  return false;
}

/** The process umask, read without the deprecated process.umask() getter. */
export function umask(): number {
  const m = /^Umask:\s*([0-7]+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1]!, 8) : 0o022;
}

/** Open fds of this process. */
export function openFds(): string[] {
  return fs.readdirSync('/proc/self/fd');
}

/** A directory whose filesystem accepts O_DIRECT, or why none does. */
export function directDir(t: { after(fn: () => unknown): void }): { dir: string } | { reason: string } {
  const tried: string[] = [];
  const repo = path.dirname(fileURLToPath(new URL('../../package.json', import.meta.url)));
  for (const base of [os.tmpdir(), '/var/tmp', repo]) {
    let dir: string;
    try {
      dir = fs.mkdtempSync(path.join(base, '.uring-odirect-'));
    } catch (e) {
      tried.push(`${base}: ${(e as NodeJS.ErrnoException).code}`);
      continue;
    }
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    try {
      fs.closeSync(fs.openSync(path.join(dir, 'probe'), fs.constants.O_CREAT | fs.constants.O_RDWR | fs.constants.O_DIRECT));
      return { dir };
    } catch (e) {
      tried.push(`${base}: ${(e as NodeJS.ErrnoException).code}`);
    }
  }
  return { reason: `no directory supports O_DIRECT (${tried.join(', ')})` };
}
