// W2: readFile over 20,000 files of 4 KiB (100 dirs x 200), 64 in flight.
// Peers in the same run, interleaved rounds, medians, ratios:
//   uring.readFile, fs.promises.readFile, readFileSync loop, and when
//   available Bun's fs.promises.readFile (.cache/bun) and the C reference
//   (bench/c/w2_chain.c: linked openat -> read -> close chains).
// Usage: node dist/bench/w2.js [--rounds N] [--depth N] [--dir DIR]

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFile as uringReadFile } from '../src/index.js';

const args = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}
const ROUNDS = Number(opt('rounds', '7'));
const DEPTH = Number(opt('depth', '64'));
const DIRS = 100;
const PER_DIR = 200;
const SIZE = 4096;
const root = path.join(opt('dir', os.tmpdir()), 'uring-w2');
/** The repository root: the nearest parent holding bench/c (works from dist/ or any build dir). */
const repo = (() => {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, d = path.dirname(d)) if (fs.existsSync(path.join(d, 'bench', 'c'))) return d;
  return process.cwd();
})();

function stamp(i: number): number {
  return (Math.imul(i, 0x9e3779b1) ^ 0x0f11e5ed) >>> 0;
}

function fileOf(i: number): string {
  return path.join(root, 'd' + String(Math.floor(i / PER_DIR)).padStart(3, '0'), 'f' + String(i % PER_DIR).padStart(3, '0'));
}

const N = DIRS * PER_DIR;
const paths = Array.from({ length: N }, (_, i) => fileOf(i));

function ensureDataset(): void {
  const marker = path.join(root, '.complete');
  if (fs.existsSync(marker)) return;
  process.stderr.write(`w2: creating ${N} files under ${root}\n`);
  const b = Buffer.alloc(SIZE);
  for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(root, 'd' + String(d).padStart(3, '0')), { recursive: true });
  for (let i = 0; i < N; i++) {
    b.fill(i & 0xff);
    b.writeUInt32LE(stamp(i), 0);
    fs.writeFileSync(paths[i]!, b);
  }
  fs.writeFileSync(marker, '');
}

function check(i: number, b: Uint8Array): boolean {
  return b.length === SIZE && (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0 === stamp(i);
}

async function runAsync(readFile: (p: string) => Promise<Uint8Array>): Promise<number> {
  let next = 0;
  let bad = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: DEPTH }, async () => {
      for (let i = next++; i < N; i = next++) {
        if (!check(i, await readFile(paths[i]!))) bad++;
      }
    }),
  );
  const ns = Number(process.hrtime.bigint() - t0);
  if (bad) throw new Error(`${bad} files with wrong content`);
  return (N / ns) * 1e9;
}

function runSync(): number {
  let bad = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) if (!check(i, fs.readFileSync(paths[i]!))) bad++;
  const ns = Number(process.hrtime.bigint() - t0);
  if (bad) throw new Error(`${bad} files with wrong content`);
  return (N / ns) * 1e9;
}

// ---- out-of-process peers ----

const bunBin = [path.join(repo, '.cache/bun/package/bin/bun'), process.env.BUN ?? ''].find((p) => p && fs.existsSync(p));
let bunScript = '';
if (bunBin) {
  bunScript = path.join(os.tmpdir(), 'uring-w2-bun.mjs');
  fs.writeFileSync(
    bunScript,
    `import { readFile } from 'node:fs/promises';
const paths = ${JSON.stringify(paths)};
let next = 0; const N = paths.length;
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: ${DEPTH} }, async () => { for (let i = next++; i < N; i = next++) { const b = await readFile(paths[i]); if (b.length !== ${SIZE}) throw new Error('bad'); } }));
console.log(JSON.stringify({ rate: N / Number(process.hrtime.bigint() - t0) * 1e9 }));
`,
  );
}

let cBin = '';
{
  const src = path.join(repo, 'bench/c/w2_chain.c');
  const out = path.join(os.tmpdir(), 'uring-w2-chain');
  if (fs.existsSync(src)) {
    const r = spawnSync('cc', ['-O2', '-o', out, src], { stdio: 'ignore' });
    if (r.status === 0) cBin = out;
  }
}
const listFile = path.join(os.tmpdir(), 'uring-w2-list.txt');

function runBun(): number {
  const r = spawnSync(bunBin!, [bunScript], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bun: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).rate;
}

function runC(): number {
  const r = spawnSync(cBin, [listFile, String(DEPTH)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`w2_chain: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  if (j.error) throw new Error(j.error);
  return (j.files / j.ns) * 1e9;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  ensureDataset();
  fs.writeFileSync(listFile, paths.join('\n') + '\n');
  // Warm the page cache and the JITs.
  runSync();
  await runAsync(uringReadFile as (p: string) => Promise<Uint8Array>);
  await runAsync(fsp.readFile);
  const peers: [string, () => number | Promise<number>][] = [
    ['uring.readFile', () => runAsync(uringReadFile as (p: string) => Promise<Uint8Array>)],
    ['fs.promises.readFile', () => runAsync(fsp.readFile)],
    ['readFileSync loop', runSync],
  ];
  if (bunBin) peers.push(['bun fs.promises.readFile', runBun]);
  if (cBin) peers.push(['C linked chains', runC]);
  const results = new Map<string, number[]>(peers.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so no peer always runs first.
    for (let k = 0; k < peers.length; k++) {
      const [name, run] = peers[(k + r) % peers.length]!;
      results.get(name)!.push(await run());
    }
  }
  const u = median(results.get('uring.readFile')!);
  console.log(`W2: ${N} files x ${SIZE} B, ${DEPTH} in flight, ${ROUNDS} rounds (median files/s; ratio = uring / peer)`);
  for (const [name] of peers) {
    const m = median(results.get(name)!);
    const ratio = name === 'uring.readFile' ? '' : `   uring is ${(u / m).toFixed(2)}x`;
    console.log(`  ${name.padEnd(26)} ${Math.round(m).toString().padStart(8)}${ratio}`);
  }
}

await main();
