// Datasets: generated under one temp dir inside --dir, one workload at a time,
// flushed to disk (so writeback does not disturb the peers), read once to warm
// the page cache, and removed afterwards (also on Ctrl-C: see run.ts).
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BLOCK, W1_SEED, W2_SEED, fileSum, stamp, w2Path } from './common.js';
import type { Params, WorkloadId } from './types.js';

export class UsageError extends Error {}

export interface Sizes {
  w1: number;
  w5: number;
  dirs: number;
  perDir: number;
}

export function sizes(quick: boolean): Sizes {
  return quick ? { w1: 64 * 2 ** 20, w5: 64 * 2 ** 20, dirs: 10, perDir: 200 } : { w1: 2 ** 30, w5: 2 ** 30, dirs: 100, perDir: 200 };
}

/** Bytes one workload's dataset needs on disk (W5 holds the source and one copy). */
export function diskNeed(w: WorkloadId, s: Sizes): number {
  if (w === 'W1') return s.w1;
  if (w === 'W2') return s.dirs * s.perDir * 2 * BLOCK;
  if (w === 'W5') return 2 * s.w5;
  return 0;
}

export function human(bytes: number): string {
  if (bytes >= 2 ** 30) return `${+(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${+(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}

/** Makes the temp dir under `dir`, and checks there is room for the largest dataset. */
export function prepareDir(dir: string, workloads: WorkloadId[], s: Sizes): string {
  let tmp: string;
  try {
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    tmp = fs.mkdtempSync(path.join(dir, 'uring-bench-'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot write datasets to --dir ${dir}: ${err.code ?? err.message}`);
  }
  const need = Math.max(0, ...workloads.map((w) => diskNeed(w, s)));
  if (need > 0) {
    try {
      const st = fs.statfsSync(tmp);
      const free = st.bavail * st.bsize;
      const want = need + 64 * 2 ** 20;
      if (free < want) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw new UsageError(`not enough disk space in ${dir}: need ${human(want)}, ${human(free)} free (try --quick or --dir)`);
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      /* statfs unsupported: go ahead */
    }
  }
  return tmp;
}

/** Flush a tree to disk; best effort (coreutils `sync -f` = syncfs). */
function syncFs(p: string): void {
  spawnSync('sync', ['-f', p], { stdio: 'ignore', timeout: 120_000 });
}

function pool(bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  randomFillSync(b);
  return b;
}

/** A file of 4 KiB blocks whose first u32 is stamp(block, W1_SEED); random-ish rest. */
export async function makeBlockFile(file: string, size: number, onProgress: (f: number) => void): Promise<void> {
  const CHUNK = 2 ** 20;
  const src = pool(CHUNK + BLOCK);
  const chunk = Buffer.allocUnsafe(CHUNK);
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < size; off += CHUNK) {
      const len = Math.min(CHUNK, size - off);
      // shift the pattern a little per chunk so chunks differ
      const shift = ((off / CHUNK) % 256) * 16;
      src.copy(chunk, 0, shift, shift + len);
      for (let b = 0; b < len; b += BLOCK) chunk.writeUInt32LE(stamp((off + b) / BLOCK, W1_SEED), b);
      let done = 0;
      while (done < len) done += fs.writeSync(fd, chunk, done, len - done, off + done);
      if ((off / CHUNK) % 16 === 0) {
        onProgress(off / size / 2);
        await tick();
      }
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  await warmFile(file, size, (f) => onProgress(0.5 + f / 2));
}

/** Let the event loop run (progress redraw, Ctrl-C) during long generation. */
const tick = () => new Promise<void>((r) => setImmediate(r));

async function warmFile(file: string, size: number, onProgress: (f: number) => void): Promise<void> {
  const buf = Buffer.allocUnsafe(2 ** 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let off = 0; off < size; off += buf.length) {
      fs.readSync(fd, buf, 0, buf.length, off);
      if ((off / buf.length) % 64 === 0) {
        onProgress(off / size);
        await tick();
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** W2: dirs × perDir files of 4 KiB; returns the list file (for C) and expected checksum. */
export async function makeW2(root: string, s: Sizes, onProgress: (f: number) => void): Promise<{ listFile: string; expectSum: number }> {
  const n = s.dirs * s.perDir;
  const src = pool(64 * BLOCK);
  const file = Buffer.allocUnsafe(BLOCK);
  const list: string[] = [];
  let sum = 0;
  for (let d = 0; d < s.dirs; d++) fs.mkdirSync(path.dirname(w2Path(root, s.perDir, d * s.perDir)), { recursive: true });
  for (let i = 0; i < n; i++) {
    const start = ((i * 7) % 63) * BLOCK + ((i * 13) % BLOCK);
    src.copy(file, 0, start, start + BLOCK);
    file.writeUInt32LE(stamp(i, W2_SEED), 0);
    const p = w2Path(root, s.perDir, i);
    fs.writeFileSync(p, file);
    sum = (sum + fileSum(file)) >>> 0;
    list.push(p);
    if (i % 500 === 0) {
      onProgress((i / n) * 0.7);
      await tick();
    }
  }
  const listFile = path.join(root, 'files.txt');
  fs.writeFileSync(listFile, list.join('\n') + '\n');
  syncFs(root);
  onProgress(0.8);
  for (const p of list) fs.readFileSync(p); // warm pages, inodes and dentries
  return { listFile, expectSum: sum };
}

/** Generates the dataset for one workload under `tmp`; returns the peers' params. */
export async function makeDataset(w: WorkloadId, tmp: string, s: Sizes, quick: boolean, onProgress: (f: number) => void): Promise<Params> {
  const durationMs = quick ? 500 : 3000;
  const base: Params = { workload: w, impl: '', depth: 64, durationMs, file: '', size: 0, root: '', dirs: 0, perDir: 0, listFile: '', expectSum: 0, dst: '' };
  const dir = path.join(tmp, w);
  fs.mkdirSync(dir, { recursive: true });
  if (w === 'W1') {
    const file = path.join(dir, 'data');
    await makeBlockFile(file, s.w1, onProgress);
    return { ...base, file, size: s.w1 };
  }
  if (w === 'W2') {
    const { listFile, expectSum } = await makeW2(dir, s, onProgress);
    return { ...base, root: dir, dirs: s.dirs, perDir: s.perDir, listFile, expectSum };
  }
  if (w === 'W5') {
    const file = path.join(dir, 'src');
    await makeBlockFile(file, s.w5, onProgress);
    return { ...base, file, size: s.w5, dst: path.join(dir, 'dst') };
  }
  return base;
}

export function describe(w: WorkloadId, p: Params): string {
  const secs = `${p.durationMs / 1000} s`;
  switch (w) {
    case 'W1': return `${human(p.size)} file, ${p.depth} in flight, ${secs}`;
    case 'W2': return `${p.dirs * p.perDir} files × 4 KiB in ${p.dirs} dirs, ${p.depth} in flight, after an untimed warm-up pass over them`;
    case 'W3': return `${p.depth} in flight, ${secs}`;
    case 'W4': return `${p.depth} in flight, ${secs}`;
    case 'W5': return `${human(p.size)} file`;
  }
}

export function removeDataset(w: WorkloadId, tmp: string): void {
  fs.rmSync(path.join(tmp, w), { recursive: true, force: true });
}
