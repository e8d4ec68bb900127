// Helpers shared by the dataset generator and the peer scripts. Node built-ins
// only (peers also run under Bun). The C references in bench/c/ compute the same
// stamps and checksums: keep them in sync.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Check, Outcome } from './types.js';

export const BLOCK = 4096;
export const W1_SEED = 0x5eed1234;
export const W2_SEED = 0x0f11e5ed;

/** The u32 at offset 0 of W1 block `k`, or of W2 file number `k`. */
export function stamp(k: number, seed: number): number {
  return (Math.imul(k, 0x9e3779b1) ^ seed) >>> 0;
}

/** Per-file contribution to the W2 checksum: first and last u32 of the file. */
export function fileSum(buf: Uint8Array): number {
  const n = buf.length;
  if (n < 8) return 0;
  const dv = new DataView(buf.buffer, buf.byteOffset, n);
  return (dv.getUint32(0, true) ^ dv.getUint32(n - 4, true)) >>> 0;
}

export function u32(buf: Uint8Array, off = 0): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

/** xorshift32; never returns 0 for a non-zero state. */
export function xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

export function laneSeed(lane: number): number {
  return stamp(lane + 1, 0x2545f491) || 1;
}

/** W2 file path for index i (dirs × perDir layout). */
export function w2Path(root: string, perDir: number, i: number): string {
  const d = Math.floor(i / perDir);
  const f = i % perDir;
  return path.join(root, 'd' + String(d).padStart(3, '0'), 'f' + String(f).padStart(3, '0'));
}

export function w2Paths(root: string, dirs: number, perDir: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < dirs * perDir; i++) out.push(w2Path(root, perDir, i));
  return out;
}

export function now(): bigint {
  return process.hrtime.bigint();
}

export function since(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0);
}

/** W4 peers run this long untimed first (at most half the timed run), so neither is timed cold. */
export const W4_WARMUP_MS = 300;

/**
 * A stop flag for fixed-duration loops: `tick()` checks the clock only every
 * 64 calls, so hot loops pay almost nothing for it.
 */
export class Deadline {
  private n = 0;
  stopped = false;
  private readonly end: number;
  constructor(ms: number) {
    this.end = performance.now() + ms;
  }
  tick(): boolean {
    if (!this.stopped && (++this.n & 63) === 0 && performance.now() >= this.end) this.stopped = true;
    return this.stopped;
  }
}

export function result(count: number, ns: number, ok: boolean, detail: string): Outcome {
  const check: Check = { ok: ok && count > 0, detail: count > 0 ? detail : 'no operation completed; ' + detail };
  return { count, ns, check };
}

/** W2: turn the per-file tallies into a check against the generator's values. */
export function w2Check(n: number, files: number, bytes: number, sum: number, bad: number, expectSum: number): Check {
  const ok = files === n && bytes === n * BLOCK && bad === 0 && sum === expectSum;
  return { ok, detail: `${files}/${n} files, ${bytes} bytes, ${bad} bad, checksum ${sum.toString(16)}/${expectSum.toString(16)}` };
}

/**
 * Import the uring package root (dist/src/index.js) and check it exports what a
 * peer needs; `skipped` otherwise, so a library mid-development never fails the run.
 */
export async function importUring(names: string[]): Promise<{ mod: Record<string, any> } | { skipped: string }> {
  const url = new URL('../../index.js', import.meta.url).href;
  let mod: Record<string, any>;
  try {
    mod = (await import(url)) as Record<string, any>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(fileURLToPath(url))) {
      return { skipped: 'uring is not built yet (no dist/src/index.js)' };
    }
    return { skipped: `cannot import uring: ${String(err?.message ?? e).split('\n')[0]}` };
  }
  const missing = names.filter((n) => mod[n] === undefined);
  if (missing.length) return { skipped: `uring does not export ${missing.join(', ')} yet` };
  // Probe the backend the child was asked for (URING_BACKEND): unavailable here
  // (no io_uring, seccomp, backend not built) is a skip; anything else a failure.
  if (typeof mod.Ring === 'function') {
    try {
      await new mod.Ring({ entries: 8 }).close();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const msg = String(err?.message ?? e).split('\n')[0]!;
      if (err?.code === 'ERR_URING_UNAVAILABLE' || ['ENOSYS', 'EPERM', 'EACCES'].includes(err?.code ?? '') || /unavailable|not available/i.test(msg)) {
        return { skipped: `backend unavailable: ${msg}` };
      }
      throw e;
    }
  }
  const want = process.env.URING_BACKEND;
  const infoFn = mod.backend ?? mod.backendInfo;
  const info = typeof infoFn === 'function' ? (infoFn() as { name?: string } | null) : null;
  if (want && info?.name && info.name !== want) return { skipped: `URING_BACKEND=${want} not honoured: rings open on ${info.name}` };
  return { mod };
}
