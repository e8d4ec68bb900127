// W1: random 4 KiB reads from a 1 GiB page-cached file via FileHandle.read,
// 64 in flight, for a fixed time. Peers in the same run, interleaved rounds,
// medians, ratios: uring's FileHandle.read, fs.promises FileHandle.read, and
// when available Bun's fs.promises FileHandle.read (.cache/bun) and fio
// (io_uring, --fixedbufs --registerfiles).
// Usage: node dist/bench/w1.js [--rounds N] [--seconds S] [--depth N] [--dir DIR] [--size BYTES]

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { open as uringOpen } from '../src/index.js';

const args = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}
const ROUNDS = Number(opt('rounds', '5'));
const SECONDS = Number(opt('seconds', '3'));
const DEPTH = Number(opt('depth', '64'));
const SIZE = Number(opt('size', String(2 ** 30)));
const BLOCK = 4096;
const file = path.join(opt('dir', os.tmpdir()), `uring-w1-${SIZE}.bin`);
/** The repository root: the nearest parent holding bench/c (works from dist/ or any build dir). */
const repo = (() => {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, d = path.dirname(d)) if (fs.existsSync(path.join(d, 'bench', 'c'))) return d;
  return process.cwd();
})();

function stamp(k: number): number {
  return (Math.imul(k, 0x9e3779b1) ^ 0x5eed1234) >>> 0;
}

function ensureFile(): void {
  const blocks = SIZE / BLOCK;
  if (fs.existsSync(file) && fs.statSync(file).size === SIZE) return;
  process.stderr.write(`w1: creating ${file}\n`);
  const fd = fs.openSync(file + '.tmp', 'w');
  const chunk = Buffer.alloc(1 << 20);
  const per = chunk.length / BLOCK;
  for (let b = 0; b < blocks; b += per) {
    for (let k = 0; k < per; k++) chunk.writeUInt32LE(stamp(b + k), k * BLOCK);
    fs.writeSync(fd, chunk, 0, chunk.length, b * BLOCK);
  }
  fs.closeSync(fd);
  fs.renameSync(file + '.tmp', file);
}

function warm(): void {
  // Read it once so it is in the page cache.
  const fd = fs.openSync(file, 'r');
  const b = Buffer.allocUnsafe(1 << 20);
  for (let off = 0; off < SIZE; off += b.length) fs.readSync(fd, b, 0, b.length, off);
  fs.closeSync(fd);
}

function xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

type Handle = { read(b: Uint8Array, o: number, l: number, p: number): Promise<{ bytesRead: number; buffer: Uint8Array }>; close(): Promise<void> };

async function runAsync(openFn: (p: string, f: string) => Promise<Handle>): Promise<number> {
  const fh = await openFn(file, 'r');
  const blocks = SIZE / BLOCK;
  const end = performance.now() + SECONDS * 1000;
  let count = 0;
  let bad = 0;
  let stop = false;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: DEPTH }, async (_, lane) => {
      const buf = Buffer.allocUnsafe(BLOCK);
      let x = stamp(lane + 1) || 1;
      while (!stop) {
        x = xorshift(x);
        const blk = x % blocks;
        const r = await fh.read(buf, 0, BLOCK, blk * BLOCK);
        if (r.bytesRead !== BLOCK || buf.readUInt32LE(0) !== stamp(blk)) bad++;
        if ((++count & 255) === 0 && performance.now() >= end) stop = true;
      }
    }),
  );
  const ns = Number(process.hrtime.bigint() - t0);
  await fh.close();
  if (bad) throw new Error(`${bad} reads with wrong content`);
  return (count / ns) * 1e9;
}

const bunBin = [path.join(repo, '.cache/bun/package/bin/bun'), process.env.BUN ?? ''].find((p) => p && fs.existsSync(p));
let bunScript = '';
if (bunBin) {
  bunScript = path.join(os.tmpdir(), 'uring-w1-bun.mjs');
  fs.writeFileSync(
    bunScript,
    `import { open } from 'node:fs/promises';
${stamp.toString()}
${xorshift.toString()}
const fh = await open(${JSON.stringify(file)}, 'r');
const blocks = ${SIZE / BLOCK}; const end = performance.now() + ${SECONDS * 1000};
let count = 0, stop = false, bad = 0;
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: ${DEPTH} }, async (_, lane) => {
  const buf = Buffer.allocUnsafe(${BLOCK}); let x = stamp(lane + 1) || 1;
  while (!stop) { x = xorshift(x); const blk = x % blocks; const r = await fh.read(buf, 0, ${BLOCK}, blk * ${BLOCK});
    if (r.bytesRead !== ${BLOCK} || buf.readUInt32LE(0) !== stamp(blk)) bad++;
    if ((++count & 255) === 0 && performance.now() >= end) stop = true; }
}));
const ns = Number(process.hrtime.bigint() - t0); await fh.close();
if (bad) throw new Error('bad reads');
console.log(JSON.stringify({ rate: count / ns * 1e9 }));
`,
  );
}

function runBun(): number {
  const r = spawnSync(bunBin!, [bunScript], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bun: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).rate;
}

const fioBin = ['/usr/bin/fio', '/usr/local/bin/fio'].find((p) => fs.existsSync(p));

/** fio with io_uring, fixed buffers and registered files (the native reference). */
function runFio(): number {
  const args = [
    '--name=w1', `--filename=${file.replace(/:/g, '\\:')}`, `--size=${SIZE}`,
    '--ioengine=io_uring', '--fixedbufs', '--registerfiles', '--direct=0', '--invalidate=0',
    '--rw=randread', `--bs=${BLOCK}`, `--iodepth=${DEPTH}`, '--norandommap', '--randrepeat=0',
    '--time_based', `--runtime=${SECONDS * 1000}ms`, '--output-format=json',
  ];
  const r = spawnSync(fioBin!, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fio: ${r.stderr}`);
  const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: { read: { total_ios: number; runtime: number } }[] };
  const { total_ios: ios, runtime: ms } = j.jobs[0]!.read;
  return (ios / ms) * 1000;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  ensureFile();
  warm();
  const peers: [string, () => number | Promise<number>][] = [
    ['uring FileHandle.read', () => runAsync(uringOpen as unknown as (p: string, f: string) => Promise<Handle>)],
    ['fs.promises FileHandle.read', () => runAsync(fsp.open as unknown as (p: string, f: string) => Promise<Handle>)],
  ];
  if (bunBin) peers.push(['bun FileHandle.read', runBun]);
  if (fioBin) peers.push(['fio io_uring fixedbufs', runFio]);
  const results = new Map<string, number[]>(peers.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < peers.length; k++) {
      const [name, run] = peers[(k + r) % peers.length]!;
      results.get(name)!.push(await run());
    }
  }
  const u = median(results.get('uring FileHandle.read')!);
  console.log(`W1: random ${BLOCK} B reads, ${SIZE} B file, ${DEPTH} in flight, ${SECONDS} s x ${ROUNDS} rounds (median reads/s; ratio = uring / peer)`);
  for (const [name] of peers) {
    const m = median(results.get(name)!);
    const ratio = name.startsWith('uring') ? '' : `   uring is ${(u / m).toFixed(2)}x`;
    console.log(`  ${name.padEnd(28)} ${Math.round(m).toString().padStart(8)}${ratio}`);
  }
}

await main();
