// Differential test: seeded random sequences of fs calls, run against
// node:fs/promises on dir A and against uring on dir B. Every result (values,
// error class/code/errno/syscall/message with the dir normalized) and the
// trees (types, modes, link counts, contents) must stay identical.
//
// Reproduce a failure: FS_DIFF_SEED=<seed> FS_DIFF_OPS=<n> node --test dist/test/fs-diff.test.js
// (the failing op index and the op log tail are in the assertion message).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as nodeFsp from 'node:fs/promises';
import * as path from 'node:path';
import * as uring from '../src/fs/promises.js';
import { capture, mulberry32, runtimeOrSkip, tmpDir, shape, norm, tree, quiesce, openFdCount, workersUp } from './fs-common.js';
import type { FsRuntime } from '../src/fs/runtime.js';

type Api = typeof nodeFsp;
const U = uring as unknown as Api;
const r = runtimeOrSkip();
const skip = typeof r === 'string' ? r : false;
// The fd-leak check below needs every scheme worker booted first (see workersUp).
if (!skip) await workersUp(r as FsRuntime);

const SEEDS = process.env.FS_DIFF_SEED ? [Number(process.env.FS_DIFF_SEED)] : [0x5eed0001, 0x5eed0002, 0x5eed0003];
const OPS = Number(process.env.FS_DIFF_OPS ?? 2500);

const roots: string[] = [];
let failed = false;
after(() => {
  if ((failed && process.env.FS_DIFF_KEEP) || process.env.FS_DIFF_STOP) return;
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
});

const NAMES = ['a', 'b', 'c', 'big', 'd', 'd/a', 'd/b', 'd/e', 'd/e/f', 'e', 'l1', 'l2', 'x/y'];
const SIZES = [0, 1, 7, 100, 4096, 4097, 56 * 1024 - 1, 56 * 1024, 60 * 1024, 60 * 1024 + 1, 100_000, 700_000];
const FLAGS_R = ['r', 'r+', 'a+', 'w+', 'rs+', undefined, 'ax+', 'wx+'];
const FLAGS_W = ['w', 'a', 'wx', 'ax', 'r+', 'w+', 'a+', 'as', undefined];
const ENCODINGS = [undefined, 'utf8', 'latin1', 'base64', 'hex', 'utf16le'];
const BAD = [null, 5, -1, 1.5, {}, [], 'bogus', true, Symbol('s'), 2 ** 53, -0, NaN];
/** Bad values for path arguments: no strings (a relative path would land in the cwd, shared by both runs). */
const BAD_PATHS = BAD.filter((v) => typeof v !== 'string');

interface Ctx {
  rand: () => number;
  pick<T>(a: readonly T[]): T;
  int(n: number): number;
}

function makeCtx(seed: number): Ctx {
  const rand = mulberry32(seed);
  return {
    rand,
    pick: (a) => a[Math.floor(rand() * a.length)]!,
    int: (n) => Math.floor(rand() * n),
  };
}

function data(c: Ctx): Buffer | string | Uint8Array {
  const n = c.rand() < 0.7 ? c.pick(SIZES.slice(0, 6)) : c.pick(SIZES);
  const seed = c.int(1 << 30);
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  const k = c.rand();
  if (k < 0.3) return b.toString('latin1').slice(0, 5000) + 'ünïcödé';
  if (k < 0.4) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return b;
}

/** One random op: a function of (api, dir) whose outcome is compared. `ro` ops are read-only. */
interface Op {
  label: string;
  ro: boolean;
  run(api: Api, d: string): Promise<unknown>;
}

function maybeBad<T>(c: Ctx, good: T): T {
  return (c.rand() < 0.04 ? c.pick(BAD) : good) as T;
}

type HOp = ((fh: nodeFsp.FileHandle) => Promise<unknown>) & { label?: string };

function genHandleOps(c: Ctx): HOp[] {
  const ops: HOp[] = [];
  const n = 1 + c.int(6);
  for (let i = 0; i < n; i++) {
    const k = c.int(13);
    const len = c.pick([0, 1, 10, 4096, 5000, 70_000]);
    const pos = c.pick([null, undefined, 0, 1, 100, 5000, 60_000, -1, 10n ** 6n]);
    const bufLen = Math.max(len, c.pick([0, 1, 16, 4096, 70_000]));
    const off = c.pick([0, 0, 0, 1, bufLen]);
    switch (k) {
      case 0: { const o = maybeBad(c, off); ops.push((fh) => fh.read(Buffer.alloc(bufLen), o, Math.max(0, Math.min(len, bufLen - off)), pos as number)); break; }
      case 1: ops.push((fh) => fh.read({ buffer: Buffer.alloc(bufLen + 1), position: pos as number })); break;
      case 2: ops.push((fh) => fh.read(Buffer.alloc(bufLen + 1), { offset: 1, position: pos as number })); break;
      case 3: { const d = data(c); const e = c.pick(['utf8', 'latin1', 'hex']) as BufferEncoding; ops.push((fh) => (typeof d === 'string' ? fh.write(d, pos as number, e) : fh.write(d, 0, d.byteLength, pos as number))); break; }
      case 4: { const d = Buffer.from(data(c) as string); ops.push((fh) => fh.writev([d.subarray(0, 10), d.subarray(10)], pos as number)); break; }
      case 5: ops.push((fh) => fh.readv([Buffer.alloc(10), Buffer.alloc(len)], pos as number)); break;
      case 6: ops.push((fh) => fh.stat()); break;
      case 7: { const t = maybeBad(c, c.pick([0, 1, 100, 5000, -3])); ops.push((fh) => fh.truncate(t)); break; }
      case 8: { const sy = c.rand() < 0.5; ops.push((fh) => (sy ? fh.sync() : fh.datasync())); break; }
      case 9: { const e = c.pick(ENCODINGS); ops.push((fh) => fh.readFile(e as BufferEncoding)); break; }
      case 10: { const d = data(c); ops.push((fh) => fh.writeFile(d)); break; }
      case 11: { const d = data(c); ops.push((fh) => fh.appendFile(d)); break; }
      default: ops.push((fh) => fh.read(Buffer.alloc(64), 0, 64, null)); break;
    }
    ops[ops.length - 1]!.label = `h${k}(len ${len}, pos ${String(pos)}, buf ${bufLen}, off ${off})`;
  }
  return ops;
}

function genOp(c: Ctx): Op {
  const n1 = c.pick(NAMES);
  const n2 = c.pick(NAMES);
  const k = c.int(100);
  // Every random choice is made here, never while running (both runs must see the same op).
  const badPath = c.rand() < 0.03 ? c.pick(BAD_PATHS) : undefined;
  const p = (d: string, n: string) => (badPath !== undefined ? (badPath as string) : path.join(d, n));
  if (k < 18) {
    const enc = c.pick(ENCODINGS);
    const flag = c.rand() < 0.8 ? undefined : c.pick(FLAGS_R);
    const opts = flag === undefined && enc === undefined ? undefined : c.rand() < 0.5 && flag === undefined ? enc : { encoding: enc, flag };
    const ro = flag === undefined || flag === 'r' || flag === 'rs+' || flag === 'r+';
    return { label: `readFile ${n1} ${JSON.stringify(opts)}`, ro, run: (api, d) => api.readFile(p(d, n1), opts as never) };
  }
  if (k < 30) {
    const d0 = data(c);
    const o = c.rand() < 0.5 ? undefined : { flag: c.pick(FLAGS_W), mode: c.pick([undefined, 0o600, 0o644, '755']), flush: c.rand() < 0.1, encoding: typeof d0 === 'string' ? c.pick(ENCODINGS) : undefined };
    const fn = c.rand() < 0.75 ? 'writeFile' : 'appendFile';
    return { label: `${fn} ${n1} ${JSON.stringify(o)}`, ro: false, run: (api, d) => api[fn](p(d, n1), d0, o as never) };
  }
  if (k < 38) {
    const fn = c.rand() < 0.5 ? 'stat' : 'lstat';
    const big = c.rand() < 0.2;
    return { label: `${fn} ${n1}`, ro: true, run: (api, d) => api[fn](p(d, n1), big ? { bigint: true } : undefined) };
  }
  if (k < 42) return { label: `unlink ${n1}`, ro: false, run: (api, d) => api.unlink(p(d, n1)) };
  if (k < 47) return { label: `rename ${n1} ${n2}`, ro: false, run: (api, d) => api.rename(p(d, n1), p(d, n2)) };
  if (k < 53) {
    const o = c.pick([undefined, { recursive: true }, 0o700, { mode: 0o750 }]);
    return { label: `mkdir ${n1} ${JSON.stringify(o)}`, ro: false, run: (api, d) => api.mkdir(p(d, n1), o as never) };
  }
  if (k < 56) return { label: `rmdir ${n1}`, ro: false, run: (api, d) => api.rmdir(p(d, n1)) };
  if (k < 58) {
    const o = c.pick([undefined, { recursive: true }, { force: true }, { recursive: true, force: true }]);
    return { label: `rm ${n1} ${JSON.stringify(o)}`, ro: false, run: (api, d) => api.rm(p(d, n1), o) };
  }
  if (k < 61) {
    const mode = c.pick([0, fs.constants.COPYFILE_EXCL]);
    return { label: `copyFile ${n1} ${n2}`, ro: false, run: (api, d) => api.copyFile(p(d, n1), p(d, n2), mode) };
  }
  if (k < 65) {
    const len = maybeBad(c, c.pick([0, 1, 5, 4096, 70_000]));
    return { label: `truncate ${n1} ${String(len)}`, ro: false, run: (api, d) => api.truncate(p(d, n1), len) };
  }
  if (k < 68) {
    const target = c.pick(['a', 'd', 'missing', 'x/../a', n1]);
    return { label: `symlink ${target} ${n2}`, ro: false, run: (api, d) => api.symlink(target, p(d, n2)) };
  }
  if (k < 70) return { label: `link ${n1} ${n2}`, ro: false, run: (api, d) => api.link(p(d, n1), p(d, n2)) };
  if (k < 72) return { label: `readlink ${n1}`, ro: true, run: (api, d) => api.readlink(p(d, n1)) };
  if (k < 74) return { label: `realpath ${n1}`, ro: true, run: (api, d) => api.realpath(p(d, n1)) };
  if (k < 77) return { label: `readdir ${n1}`, ro: true, run: (api, d) => api.readdir(p(d, n1)).then((x) => x.sort()) };
  if (k < 79) {
    const mode = c.pick([0, 2, 4]);
    return { label: `access ${n1}`, ro: true, run: (api, d) => api.access(p(d, n1), mode) };
  }
  // A FileHandle session.
  const flag = c.pick([...FLAGS_R, ...FLAGS_W]);
  const hops = genHandleOps(c);
  return {
    label: `open ${n1} ${String(flag)}: ${hops.map((h) => h.label).join(' ')}`,
    ro: false,
    run: async (api, d) => {
      const fh = await api.open(p(d, n1), flag, 0o640);
      const out: unknown[] = [];
      try {
        for (const h of hops) out.push(await capture(() => h(fh), (s) => s.split(d).join('<D>'), shape));
      } finally {
        await fh.close();
      }
      return out;
    },
  };
}

async function runSeed(seed: number, rt: FsRuntime): Promise<number> {
  const root = tmpDir(`diff-${seed.toString(16)}`);
  roots.push(root);
  const A = path.join(root, 'A');
  const B = path.join(root, 'B');
  fs.mkdirSync(A);
  fs.mkdirSync(B);
  const c = makeCtx(seed);
  const log: string[] = [];
  let done = 0;
  const fds0 = openFdCount();
  for (let i = 0; i < OPS; ) {
    // Sometimes a batch of read-only ops at once: they share io_uring_enters.
    const batch: Op[] = [];
    if (c.rand() < 0.2) {
      const n = 2 + c.int(14);
      for (let j = 0; j < n * 3 && batch.length < n; j++) {
        const op = genOp(c);
        if (op.ro) batch.push(op);
      }
    } else batch.push(genOp(c));
    if (process.env.FS_DIFF_STOP && i >= Number(process.env.FS_DIFF_STOP)) {
      console.log('stopped before op', i, root);
      return OPS;
    }
    const na = await Promise.all(batch.map((op) => capture(() => op.run(nodeFsp, A), (s) => s.split(A).join('<D>'), (v) => norm(shape(v), A))));
    const ub = await Promise.all(batch.map((op) => capture(() => op.run(U, B), (s) => s.split(B).join('<D>'), (v) => norm(shape(v), B))));
    for (let j = 0; j < batch.length; j++) {
      log.push(`${i + j}: ${batch[j]!.label}`);
      if (log.length > 30) log.shift();
      assert.deepStrictEqual(ub[j], na[j], `seed ${seed} op ${i + j} (${batch[j]!.label}) differs (dirs: ${root})\n${log.join('\n')}`);
    }
    i += batch.length;
    done += batch.length;
    if (i % 50 < batch.length) assert.deepStrictEqual(tree(B), tree(A), `seed ${seed}: trees differ after op ${i}\n${log.join('\n')}`);
  }
  assert.deepStrictEqual(tree(B), tree(A), `seed ${seed}: trees differ at the end`);
  await quiesce(rt);
  assert.equal(openFdCount(), fds0, 'fds leaked');
  assert.equal(rt.memOutstanding, 0, 'pool memory not given back');
  return done;
}

for (const seed of SEEDS) {
  test(`differential: seed ${seed.toString(16)}, ${OPS} ops vs node:fs/promises`, { skip, timeout: 120_000 }, async () => {
    let n = 0;
    try {
      n = await runSeed(seed, r as FsRuntime);
    } catch (e) {
      failed = true;
      throw e;
    }
    assert.ok(n >= OPS);
  });
}
