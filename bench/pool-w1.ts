// W1-style: random 4 KiB reads from a large page-cached file, 64 in flight,
// comparing in the same run, rounds interleaved (noise hits all alike):
//
//   bounce      ring.read into a JS Buffer (the ring copies out of a pool chunk)
//   pool-plain  ring.read_fixed on a pool chunk with fixed buffers off:
//               IORING_OP_READ on pool memory, no copy, no registration
//   fixed       ring.read_fixed on a registered pool chunk: IORING_OP_READ_FIXED
//   lease       ring.read_fixed into a user lease (what users get), registered
//
//   node dist/bench/pool-w1.js [--size MiB] [--rounds N] [--ms per-round] [--depth N] [--dir D]

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomFillSync } from 'node:crypto';
import { Ring } from '../src/index.js';
import type { Chunk, Lease } from '../src/buffers/pool.js';

const BLOCK = 4096;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

function argStr(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1]!;
}

function makeFile(file: string, bytes: number): void {
  const chunk = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < bytes; off += chunk.length) {
      randomFillSync(chunk);
      // Stamp each block with its index so every read can be checked cheaply.
      for (let b = 0; b < chunk.length; b += BLOCK) chunk.writeUInt32LE((off + b) / BLOCK, b);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - off), off);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads the whole file once so that every variant hits the page cache. */
function warm(file: string): void {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.allocUnsafe(1 << 20);
  try {
    while (fs.readSync(fd, b, 0, b.length, null) > 0);
  } finally {
    fs.closeSync(fd);
  }
}

type Read = (worker: number, block: number) => Promise<number>;
type Stamp = (worker: number) => number;

interface Variant {
  name: string;
  read: Read;
  stamp: Stamp;
}

/** `depth` workers, each with one read in flight, for `ms`; returns reads per second. */
async function run(v: Variant, depth: number, blocks: number, ms: number, seed: number): Promise<number> {
  let count = 0;
  let bad = 0;
  const deadline = performance.now() + ms;
  const worker = async (w: number): Promise<void> => {
    let x = (seed * 0x9e3779b1 + w * 0x85ebca6b) | 0 || 1;
    while (performance.now() < deadline) {
      // xorshift32: cheap, and different for every worker.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const block = (x >>> 0) % blocks;
      const n = await v.read(w, block);
      if (n !== BLOCK || v.stamp(w) !== block) bad++;
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: depth }, (_, w) => worker(w)));
  const elapsed = performance.now() - t0;
  if (bad > 0) throw new Error(`${v.name}: ${bad} reads returned wrong data`);
  return (count / elapsed) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function fmt(n: number): string {
  return `${(n / 1000).toFixed(1)}k/s`;
}

async function main(): Promise<void> {
  const sizeMiB = arg('--size', 512);
  const rounds = arg('--rounds', 7);
  const ms = arg('--ms', 1000);
  const depth = arg('--depth', 64);
  const dir = argStr('--dir', os.tmpdir());
  const bytes = sizeMiB * 2 ** 20;
  const blocks = bytes / BLOCK;
  const file = path.join(dir, `uring-pool-w1-${process.pid}.dat`);
  const cleanup = () => fs.rmSync(file, { force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  console.log(`file: ${file}, ${sizeMiB} MiB; ${depth} in flight; ${rounds} rounds x ${ms} ms per variant, interleaved`);
  makeFile(file, bytes);
  warm(file);
  const fixedRing = new Ring({ entries: 256 });
  const plainRing = new Ring({ entries: 256, pool: { fixed: false } });
  const fd = fs.openSync(file, 'r');
  try {
    const bufs = Array.from({ length: depth }, () => Buffer.alloc(BLOCK));
    const plain: Chunk[] = Array.from({ length: depth }, () => plainRing.pool.chunk(BLOCK, BLOCK));
    const fixed: Chunk[] = Array.from({ length: depth }, () => fixedRing.pool.chunk(BLOCK, BLOCK));
    const leases: Lease[] = Array.from({ length: depth }, () => fixedRing.pool.alloc(BLOCK, { align: BLOCK }));
    const plainViews = plain.map((c) => c.view());
    const fixedViews = fixed.map((c) => c.view());
    const leaseViews = leases.map((l) => l.bytes);
    const u32 = (b: Uint8Array) => b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    const variants: Variant[] = [
      { name: 'bounce (ring.read)', read: (w, k) => fixedRing.read(fd, bufs[w]!, k * BLOCK), stamp: (w) => bufs[w]!.readUInt32LE(0) },
      { name: 'pool-plain (READ)', read: (w, k) => plainRing.read_fixed(fd, plain[w]!, BLOCK, k * BLOCK), stamp: (w) => u32(plainViews[w]!) >>> 0 },
      { name: 'fixed (READ_FIXED)', read: (w, k) => fixedRing.read_fixed(fd, fixed[w]!, BLOCK, k * BLOCK), stamp: (w) => u32(fixedViews[w]!) >>> 0 },
      { name: 'lease (READ_FIXED)', read: (w, k) => fixedRing.read_fixed(fd, leases[w]!, BLOCK, k * BLOCK), stamp: (w) => u32(leaseViews[w]!) >>> 0 },
    ];
    // Warm-up: JIT and registration (the first fixed op registers the region).
    for (const v of variants) await run(v, depth, blocks, 300, 1);
    const st = fixedRing.pool.stats();
    console.log(`fixed ring pool: fixed=${st.fixed}, registered ${st.registeredBytes / 2 ** 20} MiB in ${st.registeredRegions} region(s); plain ring: fixed=${plainRing.pool.stats().fixed}`);
    const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so no variant always runs first after a pause.
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + r) % variants.length]!;
        results.get(v.name)!.push(await run(v, depth, blocks, ms, r + 2));
      }
    }
    const base = median(results.get(variants[0]!.name)!);
    for (const v of variants) {
      const xs = results.get(v.name)!;
      const m = median(xs);
      console.log(`  ${v.name.padEnd(20)} median ${fmt(m).padStart(10)}  ratio ${(m / base).toFixed(2)}x  [${xs.map(fmt).join(' ')}]`);
    }
    const fx = median(results.get(variants[2]!.name)!);
    const pp = median(results.get(variants[1]!.name)!);
    console.log(`  fixed / bounce ${(fx / base).toFixed(2)}x; fixed / pool-plain ${(fx / pp).toFixed(2)}x (registration alone)`);
    for (const l of leases) l.release();
    for (const c of fixed) fixedRing.pool.free(c);
    for (const c of plain) plainRing.pool.free(c);
  } finally {
    fs.closeSync(fd);
    await fixedRing.close();
    await plainRing.close();
    cleanup();
  }
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
