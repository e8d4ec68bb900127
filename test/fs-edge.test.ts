// Edge cases of every call, each run against node:fs/promises and against
// uring on twin temp dirs set up identically: results, errors (class, code,
// errno, syscall, path, dest, message) and the resulting trees must match.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as nodeFsp from 'node:fs/promises';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as uring from '../src/fs/promises.js';
import { capture, runtimeOrSkip, tmpDir, shape, norm, tree, type Outcome } from './fs-common.js';

type Api = typeof nodeFsp;
const U = uring as unknown as Api;
const skip = (() => {
  const r = runtimeOrSkip();
  return typeof r === 'string' ? r : false;
})();

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

interface Twin {
  a: string;
  b: string;
}

function twin(setup: (dir: string) => void): Twin {
  const root = tmpDir('edge');
  roots.push(root);
  const a = path.join(root, 'A');
  const b = path.join(root, 'B');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  setup(a);
  setup(b);
  return { a, b };
}

/** Runs `op` with node on A and uring on B; compares outcomes and trees. */
async function same(label: string, setup: (dir: string) => void, op: (api: Api, dir: string) => unknown): Promise<Outcome> {
  const t = twin(setup);
  const na = await capture(() => op(nodeFsp, t.a), (s) => s.split(t.a).join('<D>'), (v) => norm(shape(v), t.a));
  const ub = await capture(() => op(U, t.b), (s) => s.split(t.b).join('<D>'), (v) => norm(shape(v), t.b));
  assert.deepStrictEqual(ub, na, `${label}: outcome differs`);
  assert.deepStrictEqual(tree(t.b), tree(t.a), `${label}: resulting tree differs`);
  return ub;
}

const KiB = 1024;
function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const std = (d: string) => {
  fs.writeFileSync(path.join(d, 'f'), 'hello world\n');
  fs.writeFileSync(path.join(d, 'empty'), '');
  fs.mkdirSync(path.join(d, 'dir'));
  fs.writeFileSync(path.join(d, 'dir', 'inner'), 'inner');
  fs.symlinkSync('f', path.join(d, 'lnk'));
  fs.symlinkSync('missing', path.join(d, 'dangling'));
  fs.writeFileSync(path.join(d, 'big'), bytes(200 * KiB, 5));
};

const SIZES = [56 * KiB - 1, 56 * KiB, 56 * KiB + 1, 60 * KiB - 1, 60 * KiB, 60 * KiB + 1, 64 * KiB, 200 * KiB, 3 * 1024 * KiB + 7];
const sized = (d: string) => {
  std(d);
  for (const n of SIZES) fs.writeFileSync(path.join(d, `s${n}`), bytes(n, n));
};

test('readFile: sizes around the chain reads, encodings, flags, errors', { skip }, async () => {
  const names = ['f', 'empty', 'dir', 'lnk', 'dangling', 'nope', 'f/x', 'dir/inner', 'big', ...SIZES.map((n) => `s${n}`)];
  await same('readFile sizes', sized, async (api, d) => {
    const out = [];
    for (const n of names) {
      out.push(await capture(() => api.readFile(path.join(d, n)), undefined, shape));
      out.push(await capture(() => api.readFile(path.join(d, n), 'utf8')));
      out.push(await capture(() => api.readFile(path.join(d, n), 'base64')));
    }
    return out.map((o) => norm(o, d));
  });
  for (const enc of ['latin1', 'base64', 'hex', 'ucs2', 'base64url', 'ascii', 'buffer', 'bogus', null, undefined, '']) {
    await same(`readFile enc ${enc}`, std, (api, d) => api.readFile(path.join(d, 'f'), { encoding: enc as BufferEncoding }));
    await same(`readFile enc ${enc} big`, std, (api, d) => api.readFile(path.join(d, 'big'), enc as BufferEncoding));
  }
  for (const flag of ['r', 'r+', 'a+', 'w+', 'wx+', 'w', 'a', 'ax+', 'rs+', 'q', 0, fs.constants.O_RDWR, 1.5, -1, '', null]) {
    await same(`readFile flag ${String(flag)}`, std, (api, d) => api.readFile(path.join(d, 'f'), { flag: flag as string }));
    await same(`readFile flag ${String(flag)} new`, std, (api, d) => api.readFile(path.join(d, 'new'), { flag: flag as string }));
  }
  for (const bad of [5, true, Symbol('s'), () => 1, [], { signal: 5 }, { signal: {} }, { encoding: 5 }]) {
    await same(`readFile opts ${String(typeof bad)}`, std, (api, d) => api.readFile(path.join(d, 'f'), bad as never));
  }
  for (const p of [5, null, undefined, {}, [], true, 'a\u0000b', Buffer.from('a\u0000b'), new URL('http://x/y'), 'file:///etc/hostname']) {
    await same(`readFile path ${String(p)}`, std, (api) => api.readFile(p as string));
  }
  await same('readFile Buffer path', std, (api, d) => api.readFile(Buffer.from(path.join(d, 'f'))));
  await same('readFile URL path', std, (api, d) => api.readFile(pathToFileURL(path.join(d, 'f'))));
  await same('readFile Uint8Array path', std, (api, d) => api.readFile(new Uint8Array(Buffer.from(path.join(d, 'dir/inner'))) as never));
  await same('readFile long name', std, (api, d) => api.readFile(path.join(d, 'x'.repeat(300))));
  await same('readFile long path', std, (api, d) => api.readFile(path.join(d, ...Array(900).fill('ab'))));
  await same('readFile aborted', std, (api, d) => api.readFile(path.join(d, 'f'), { signal: AbortSignal.abort('why') }));
  await same('readFile aborted missing', std, (api, d) => api.readFile(path.join(d, 'nope'), { signal: AbortSignal.abort() }));
  await same('readFile live signal', std, (api, d) => api.readFile(path.join(d, 'f'), { signal: new AbortController().signal, encoding: 'utf8' }));
  // A file read by the chain's first and second read exactly, then some.
  await same('readFile /proc', std, (api) => api.readFile('/proc/self/cmdline', 'latin1').then((s) => s.length > 0));
  await same('readFile procfs version', std, (api) => api.readFile('/proc/version', 'utf8'));
});

test('readFile into options.buffer (taken on Node 24, ignored on Node 20, like node)', { skip }, async () => {
  type Opts = Record<string, unknown>;
  // The result, and whether it lies in the caller's memory.
  const into = (api: Api, p: string | (() => Promise<nodeFsp.FileHandle>), make: () => Opts) => async () => {
    const o = make();
    const fh = typeof p === 'string' ? null : await p();
    try {
      const r = await (fh ? fh.readFile(o as never) : api.readFile(p as string, o as never));
      const mine = typeof o.buffer === 'function' ? (o as { last?: ArrayBufferView }).last : (o.buffer as ArrayBufferView | undefined);
      return [shape(r), typeof r !== 'string' && mine !== undefined && r.buffer === mine.buffer];
    } finally {
      await fh?.close();
    }
  };
  const fn = (mk: (n: number) => unknown) => (): Opts => {
    const o: Opts = {};
    o.buffer = (n: number) => (o.last = mk(n) as ArrayBufferView);
    return o;
  };
  const cases: [string, string, () => Opts][] = [
    ['fits', 'f', () => ({ buffer: Buffer.alloc(100) })],
    ['exact', 'f', () => ({ buffer: Buffer.alloc(12) })],
    ['too small', 'f', () => ({ buffer: Buffer.alloc(5) })],
    ['utf8', 'f', () => ({ buffer: new Uint8Array(64), encoding: 'utf8' })],
    ['dataview', 'f', () => ({ buffer: new DataView(new ArrayBuffer(40), 4, 20) })],
    ['function', 'f', fn((n) => Buffer.alloc(n))],
    ['function bad', 'f', fn(() => 'x')],
    ['number', 'f', () => ({ buffer: 5 })],
    ['null', 'f', () => ({ buffer: null })],
    ['empty file', 'empty', () => ({ buffer: Buffer.alloc(0) })],
    ['big', 'big', () => ({ buffer: Buffer.alloc(300 * KiB) })],
    ['missing', 'nope', () => ({ buffer: Buffer.alloc(10) })],
    ['dir', 'dir', () => ({ buffer: Buffer.alloc(10) })],
    ['aborted', 'f', () => ({ buffer: Buffer.alloc(100), signal: AbortSignal.abort() })],
    ['encoding buffer', 'f', () => ({ buffer: Buffer.alloc(100), encoding: 'buffer' })],
  ];
  for (const [label, name, make] of cases) {
    await same(`readFile buffer ${label}`, std, (api, d) => into(api, path.join(d, name), make)());
    if (name !== 'nope') {
      await same(`fh.readFile buffer ${label}`, std, (api, d) => into(api, () => api.open(path.join(d, name)), make)());
    }
  }
  // Unknown size (procfs): read until the buffer is full, then EOF must follow.
  await same('readFile buffer procfs fits', std, (api) => into(api, '/proc/version', () => ({ buffer: Buffer.alloc(4096) }))());
  await same('readFile buffer procfs too small', std, (api) => into(api, '/proc/version', () => ({ buffer: Buffer.alloc(10) }))());
});

test('readFile: larger than 2 GiB fails like node (sparse file)', { skip }, async () => {
  await same('readFile huge', (d) => {
    const fd = fs.openSync(path.join(d, 'huge'), 'w');
    fs.ftruncateSync(fd, 2 ** 31 + 4096);
    fs.closeSync(fd);
  }, (api, d) => api.readFile(path.join(d, 'huge')));
});

test('readFile: a FIFO is read to EOF, across the chain and the continuation', { skip: skip || (process.env.FS_SKIP_FIFO ? 'FS_SKIP_FIFO set' : false), timeout: 30_000 }, async () => {
  for (const api of [nodeFsp, U]) {
    const d = tmpDir('fifo');
    roots.push(d);
    const p = path.join(d, 'fifo');
    spawnSync('mkfifo', [p]);
    const payload = bytes(300 * KiB, 7);
    fs.writeFileSync(path.join(d, 'payload'), payload);
    // A writer that writes in pieces with pauses, so reads come back short.
    const writer = `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(p)},'w');const b=fs.readFileSync(${JSON.stringify(path.join(d, 'payload'))});let o=0;const step=()=>{if(o>=b.length){fs.closeSync(fd);return}const n=Math.min(1000+o%7000,b.length-o);fs.writeSync(fd,b,o,n);o+=n;setTimeout(step,o<20000?5:0)};step();`;
    const child = (await import('node:child_process')).spawn(process.execPath, ['-e', writer], { stdio: 'ignore' });
    // Listen before reading: the child may exit before the read settles, and
    // a missed 'exit' would leave nothing keeping the event loop alive.
    const exited = new Promise((r) => child.on('exit', r));
    const got = await api.readFile(p);
    await exited;
    assert.equal(Buffer.compare(got, payload), 0, `FIFO content via ${api === nodeFsp ? 'node' : 'uring'}`);
  }
});

test('writeFile / appendFile: data kinds, flags, modes, flush, errors', { skip }, async () => {
  const datas: [string, () => unknown][] = [
    ['string', () => 'héllo wörld'],
    ['empty', () => ''],
    ['buffer', () => bytes(5000)],
    ['big', () => bytes(9 * 1024 * KiB + 3)],
    ['u16', () => new Uint16Array([1, 2, 3, 65535])],
    ['dataview', () => new DataView(bytes(100).buffer, 10, 50)],
    ['iterable', () => ['a', 'bc', Buffer.from('def')]],
    ['async iterable', () => (async function* () { yield 'x'; yield Buffer.from('yz'); })()],
    ['number', () => 42],
    ['object', () => ({ a: 1 })],
    ['null', () => null],
  ];
  for (const fn of ['writeFile', 'appendFile'] as const) {
    for (const [label, data] of datas) {
      await same(`${fn} ${label}`, std, (api, d) => api[fn](path.join(d, 'f'), data() as string));
      await same(`${fn} ${label} new`, std, (api, d) => api[fn](path.join(d, 'new'), data() as string));
    }
    for (const o of [
      'latin1', 'hex', 'base64', 'bogus', 'buffer', { encoding: 'ucs2' }, { mode: 0o600 }, { mode: '640' }, { mode: 'abc' }, { mode: -1 },
      { flag: 'wx' }, { flag: 'a' }, { flag: 'r+' }, { flag: 'r' }, { flag: 'ax' }, { flag: 'bogus' }, { flush: true }, { flush: 'yes' },
      { signal: AbortSignal.abort() }, { signal: 'x' }, 7,
    ]) {
      await same(`${fn} opts ${JSON.stringify(o)}`, std, (api, d) => api[fn](path.join(d, 'f'), 'abcd', o as never));
      await same(`${fn} opts ${JSON.stringify(o)} new`, std, (api, d) => api[fn](path.join(d, 'n2'), 'abcd', o as never));
    }
    for (const target of ['dir', 'nope/x', 'f/x', 'lnk', 'dangling', '']) {
      await same(`${fn} to ${target}`, std, (api, d) => api[fn](path.join(d, target), 'data'));
    }
    await same(`${fn} bad path`, std, (api) => api[fn](5 as unknown as string, 'x'));
    await same(`${fn} bad path + bad data`, std, (api) => api[fn](5 as unknown as string, 5 as unknown as string));
  }
});

test('stat / lstat: objects identical to node on the same path', { skip }, async () => {
  const t = twin(std);
  for (const n of ['f', 'dir', 'lnk', 'dangling', 'empty', 'nope', 'f/x', '', '.']) {
    for (const fn of ['stat', 'lstat'] as const) {
      for (const opts of [undefined, { bigint: true }, { bigint: false }, {}, { throwIfNoEntry: false }, { throwIfNoEntry: true }, { throwIfNoEntry: 0 }, { bigint: true, throwIfNoEntry: false }]) {
        const p = path.join(t.a, n);
        const a = await capture(() => nodeFsp[fn](p, opts as never));
        const b = await capture(() => U[fn](p, opts as never));
        assert.deepStrictEqual(b, a, `${fn} ${n} ${JSON.stringify(opts)}`);
        if (a.ok && a.value !== undefined) {
          assert.equal(Object.getPrototypeOf(b.value), Object.getPrototypeOf(a.value));
          assert.equal((b.value as fs.Stats).isFile(), (a.value as fs.Stats).isFile());
        }
      }
    }
  }
  await same('stat null opts', std, (api, d) => api.stat(path.join(d, 'f'), null as never));
  await same('stat bad path', std, (api) => api.stat({} as never));
});

test('FileHandle.read: every signature, positions, bounds', { skip }, async () => {
  const setup = (d: string) => fs.writeFileSync(path.join(d, 'f'), bytes(10000, 3));
  type Args = unknown[];
  const cases: [string, () => Args][] = [
    ['buf', () => [Buffer.alloc(100)]],
    ['buf,off,len,pos', () => [Buffer.alloc(100), 10, 50, 20]],
    ['pos null', () => [Buffer.alloc(100), 0, 100, null]],
    ['pos undefined', () => [Buffer.alloc(100), 0, 100, undefined]],
    ['pos -1', () => [Buffer.alloc(100), 0, 100, -1]],
    ['pos -5', () => [Buffer.alloc(100), 0, 100, -5]],
    ['pos bigint', () => [Buffer.alloc(100), 0, 100, 5000n]],
    ['pos -1n', () => [Buffer.alloc(100), 0, 100, -1n]],
    ['pos -2', () => [Buffer.alloc(100), 0, 100, -2]],
    ['pos -5n', () => [Buffer.alloc(100), 0, 100, -5n]],
    ['pos bigint max', () => [Buffer.alloc(100), 0, 100, 2n ** 63n - 101n]],
    ['pos bigint past max', () => [Buffer.alloc(100), 0, 100, 2n ** 63n - 100n]],
    ['pos bigint 2^53 + 1', () => [Buffer.alloc(100), 0, 100, 2n ** 53n + 1n]],
    ['pos string', () => [Buffer.alloc(100), 0, 100, '5']],
    ['pos object', () => [Buffer.alloc(100), 0, 100, {}]],
    ['pos -5 length 0', () => [Buffer.alloc(100), 0, 0, -5]],
    ['pos -5 empty buffer', () => [Buffer.alloc(0), 0, 10, -5]],
    ['pos -5 length too big', () => [Buffer.alloc(100), 0, 101, -5]],
    ['opts obj pos -2', () => [Buffer.alloc(100), { position: -2 }]],
    ['opts obj pos bigint', () => [Buffer.alloc(100), { position: 7n }]],
    ['params pos bigint', () => [{ buffer: Buffer.alloc(64), position: 9n }]],
    ['params pos -3', () => [{ buffer: Buffer.alloc(64), position: -3 }]],
    ['pos 1.5', () => [Buffer.alloc(100), 0, 100, 1.5]],
    ['pos huge', () => [Buffer.alloc(100), 0, 100, 2 ** 40]],
    ['pos unsafe', () => [Buffer.alloc(100), 0, 100, 2 ** 53]],
    ['pos at eof', () => [Buffer.alloc(100), 0, 100, 9950]],
    ['pos past eof', () => [Buffer.alloc(100), 0, 100, 20000]],
    ['opts obj', () => [Buffer.alloc(100), { offset: 5, length: 10, position: 100 }]],
    ['opts obj empty', () => [Buffer.alloc(100), {}]],
    ['opts obj null', () => [Buffer.alloc(100), null]],
    ['params', () => [{ buffer: Buffer.alloc(64), position: 7 }]],
    ['params empty', () => [{}]],
    ['no args', () => []],
    ['params null', () => [null]],
    ['params bad buffer', () => [{ buffer: 'str' }]],
    ['params number', () => [5]],
    ['params array', () => [[]]],
    ['offset negative', () => [Buffer.alloc(100), -1, 10, 0]],
    ['offset 1.5', () => [Buffer.alloc(100), 1.5, 10, 0]],
    ['offset string', () => [Buffer.alloc(100), '1', 10, 0]],
    ['offset too big', () => [Buffer.alloc(100), 100, 10, 0]],
    ['offset huge', () => [Buffer.alloc(100), 2 ** 53, 10, 0]],
    ['length negative', () => [Buffer.alloc(100), 0, -1, 0]],
    ['length too big', () => [Buffer.alloc(100), 0, 101, 0]],
    ['length huge', () => [Buffer.alloc(100), 0, 2 ** 40, 0]],
    ['length 0', () => [Buffer.alloc(100), 0, 0, 0]],
    ['length null', () => [Buffer.alloc(100), 10, null, 0]],
    ['empty buffer', () => [Buffer.alloc(0), 0, 10, 0]],
    ['empty buffer len 0', () => [Buffer.alloc(0), 0, 0, 0]],
    ['float64array', () => [new Float64Array(10), 8, 16, 0]],
    ['dataview', () => [new DataView(new ArrayBuffer(64), 8, 32), 4, 20, 3]],
    ['uint8array sub', () => [new Uint8Array(new ArrayBuffer(64), 10, 30), 0, 30, 0]],
  ];
  for (const [label, args] of cases) {
    await same(`read ${label}`, setup, async (api, d) => {
      const fh = await api.open(path.join(d, 'f'), 'r');
      try {
        const r1 = await capture(() => fh.read(...(args() as [Buffer])), undefined, shape);
        // position null must have advanced the file position like node's.
        const r2 = await capture(() => fh.read(Buffer.alloc(16), 0, 16, null), undefined, shape);
        return [r1, r2];
      } finally {
        await fh.close();
      }
    });
  }
  await same('read on a dir', std, async (api, d) => {
    const fh = await api.open(path.join(d, 'dir'), 'r');
    try {
      return await fh.read(Buffer.alloc(10), 0, 10, 0);
    } finally {
      await fh.close();
    }
  });
  await same('read write-only', std, async (api, d) => {
    const fh = await api.open(path.join(d, 'f'), 'a');
    try {
      return await fh.read(Buffer.alloc(10), 0, 10, 0);
    } finally {
      await fh.close();
    }
  });
  await same('read large', (d) => fs.writeFileSync(path.join(d, 'f'), bytes(3 << 20)), async (api, d) => {
    const fh = await api.open(path.join(d, 'f'), 'r');
    try {
      const a = await fh.read(Buffer.alloc(3 << 20), 0, 3 << 20, 0);
      const b = await fh.read(Buffer.alloc(100), 0, 100, null);
      return [a.bytesRead, b.bytesRead, a.buffer.subarray(1 << 20, (1 << 20) + 64)];
    } finally {
      await fh.close();
    }
  });
});

test('FileHandle.write / writev / readv / stat / truncate / sync / readFile / writeFile', { skip }, async () => {
  const setup = (d: string) => fs.writeFileSync(path.join(d, 'f'), bytes(1000, 9));
  const ops: [string, (fh: nodeFsp.FileHandle) => Promise<unknown>][] = [
    ['write buf', (fh) => fh.write(Buffer.from('abc'))],
    ['write buf pos', (fh) => fh.write(Buffer.from('abc'), 0, 3, 500)],
    ['write buf off len', (fh) => fh.write(Buffer.from('abcdef'), 2, 3)],
    ['write buf opts', (fh) => fh.write(Buffer.from('abcdef'), { offset: 1, length: 2, position: 10 } as never)],
    ['write buf opts null', (fh) => fh.write(Buffer.from('abcdef'), null as never)],
    ['write buf pos null', (fh) => fh.write(Buffer.from('xyz'), 0, 3, null)],
    ['write buf pos bigint', (fh) => fh.write(Buffer.from('xyz'), 0, 3, 7n as never)],
    ['write u16', (fh) => fh.write(new Uint16Array([0x4142, 0x4344]))],
    ['write empty', (fh) => fh.write(Buffer.alloc(0))],
    ['write offset too big', (fh) => fh.write(Buffer.from('abc'), 4)],
    ['write length too big', (fh) => fh.write(Buffer.from('abc'), 1, 3)],
    ['write length negative', (fh) => fh.write(Buffer.from('abc'), 0, -1)],
    ['write length 1.5', (fh) => fh.write(Buffer.from('abc'), 0, 1.5)],
    ['write offset -1', (fh) => fh.write(Buffer.from('abc'), -1)],
    ['write string', (fh) => fh.write('héllo')],
    ['write string pos', (fh) => fh.write('héllo', 20)],
    ['write string pos enc', (fh) => fh.write('68656c6c6f', 30, 'hex')],
    ['write string odd hex', (fh) => fh.write('abc', 0, 'hex')],
    ['write string bogus enc', (fh) => fh.write('abc', 0, 'bogus' as never)],
    ['write string latin1', (fh) => fh.write('ÿé', null, 'latin1')],
    ['write string empty', (fh) => fh.write('')],
    ['write number', (fh) => fh.write(5 as never)],
    ['write object', (fh) => fh.write({} as never)],
    ['writev', (fh) => fh.writev([Buffer.from('ab'), new Uint8Array([99, 100])])],
    ['writev pos', (fh) => fh.writev([Buffer.from('ab'), Buffer.from('cd')], 100)],
    ['writev empty', (fh) => fh.writev([])],
    ['writev bad', (fh) => fh.writev([Buffer.from('a'), 'b'] as never)],
    ['writev not array', (fh) => fh.writev('ab' as never)],
    ['readv', (fh) => fh.readv([Buffer.alloc(10), Buffer.alloc(5)])],
    ['readv pos', (fh) => fh.readv([Buffer.alloc(10), Buffer.alloc(5)], 995)],
    ['readv empty', (fh) => fh.readv([])],
    ['readv bad', (fh) => fh.readv([5] as never)],
    ['stat', (fh) => fh.stat()],
    ['stat bigint', (fh) => fh.stat({ bigint: true })],
    ['truncate', (fh) => fh.truncate(10)],
    ['truncate default', (fh) => fh.truncate()],
    ['truncate negative', (fh) => fh.truncate(-5)],
    ['truncate bigger', (fh) => fh.truncate(5000)],
    ['truncate bad', (fh) => fh.truncate('5' as never)],
    ['truncate 1.5', (fh) => fh.truncate(1.5)],
    ['sync', (fh) => fh.sync()],
    ['datasync', (fh) => fh.datasync()],
    ['readFile', (fh) => fh.readFile()],
    ['readFile utf8', (fh) => fh.readFile('latin1')],
    ['readFile after read', async (fh) => [await fh.read(Buffer.alloc(100), 0, 100, null), await fh.readFile()]],
    ['readFile buffer enc', (fh) => fh.readFile({ encoding: 'buffer' as never })],
    ['readFile aborted', (fh) => fh.readFile({ signal: AbortSignal.abort() })],
    ['writeFile', (fh) => fh.writeFile('new content')],
    ['writeFile after read', async (fh) => [await fh.read(Buffer.alloc(100), 0, 100, null), await fh.writeFile('xx')]],
    ['writeFile iterable', (fh) => fh.writeFile(['a', 'b'] as never)],
    ['writeFile bad', (fh) => fh.writeFile(5 as never)],
    ['appendFile', (fh) => fh.appendFile('more')],
    ['chmod', (fh) => fh.chmod(0o600)],
    ['chmod bad', (fh) => fh.chmod('xyz' as never)],
    ['close twice', async (fh) => [await fh.close(), await fh.close()]],
    ['ops after close', async (fh) => {
      await fh.close();
      const out = [];
      for (const f of [() => fh.read(Buffer.alloc(1), 0, 1, 0), () => fh.read(), () => fh.write('x'), () => fh.stat(), () => fh.truncate(), () => fh.sync(), () => fh.datasync(), () => fh.readFile(), () => fh.writeFile('x'), () => fh.appendFile('x'), () => fh.readv([Buffer.alloc(1)]), () => fh.writev([Buffer.alloc(1)])]) {
        out.push(await capture(f));
      }
      return [fh.fd, out];
    }],
    ['close while reading', async (fh) => {
      const p = [fh.read(Buffer.alloc(10), 0, 10, 0), fh.read(Buffer.alloc(10), 0, 10, 5)];
      const c = fh.close();
      return [await Promise.all(p), await c, fh.fd];
    }],
  ];
  for (const flag of ['r+', 'a+', 'r']) {
    for (const [label, op] of ops) {
      await same(`fh(${flag}) ${label}`, setup, async (api, d) => {
        const fh = await api.open(path.join(d, 'f'), flag);
        try {
          return await op(fh);
        } finally {
          await fh.close();
        }
      });
    }
  }
});

test('open: flags, modes, errors; asyncDispose', { skip }, async () => {
  for (const flags of [undefined, 'r', 'r+', 'w', 'wx', 'xw', 'w+', 'a', 'ax', 'a+', 'as', 'rs', 'sr+', fs.constants.O_RDONLY, fs.constants.O_CREAT | fs.constants.O_WRONLY, 'bogus', 2 ** 31, 1.5, null, {}]) {
    for (const n of ['f', 'new', 'dir', 'nope/x', 'lnk', 'dangling']) {
      await same(`open ${n} ${String(flags)}`, std, async (api, d) => {
        const fh = await api.open(path.join(d, n), flags as string, 0o640);
        const fd = fh.fd;
        await fh.close();
        return typeof fd;
      });
    }
  }
  for (const mode of ['644', '0o644', 'abc', -1, 2 ** 32, 1.5, null, undefined, 0o600]) {
    await same(`open mode ${String(mode)}`, std, async (api, d) => {
      const fh = await api.open(path.join(d, 'm'), 'w', mode as number);
      await fh.close();
    });
  }
  const dispose = (Symbol as unknown as { asyncDispose: symbol }).asyncDispose;
  const d = tmpDir('dispose');
  roots.push(d);
  fs.writeFileSync(path.join(d, 'f'), 'x');
  const fh = await uring.open(path.join(d, 'f'));
  assert.equal(typeof (fh as unknown as Record<symbol, unknown>)[dispose], 'function');
  await (fh as unknown as Record<symbol, () => Promise<void>>)[dispose]!();
  assert.equal(fh.fd, -1);
});

test('path ops: unlink rename mkdir rmdir symlink link truncate', { skip }, async () => {
  const names = ['f', 'dir', 'lnk', 'dangling', 'nope', 'empty', 'f/x', 'dir/inner', 'dir/sub/deep'];
  for (const n of names) {
    await same(`unlink ${n}`, std, (api, d) => api.unlink(path.join(d, n)));
    await same(`rmdir ${n}`, std, (api, d) => api.rmdir(path.join(d, n)));
    await same(`rmdir recursive ${n}`, std, (api, d) => api.rmdir(path.join(d, n), { recursive: false }));
    for (const opts of [undefined, { recursive: true }, 0o700, '700', { mode: 0o711 }, { recursive: 'yes' }, { mode: 'bad' }]) {
      await same(`mkdir ${n} ${JSON.stringify(opts)}`, std, (api, d) => api.mkdir(path.join(d, n), opts as never));
    }
    for (const len of [undefined, 0, 3, 100000, -1, 1.5, '3', null]) {
      await same(`truncate ${n} ${String(len)}`, std, (api, d) => api.truncate(path.join(d, n), len as number));
    }
    for (const m of names) {
      await same(`rename ${n} ${m}`, std, (api, d) => api.rename(path.join(d, n), path.join(d, m)));
      await same(`link ${n} ${m}`, std, (api, d) => api.link(path.join(d, n), path.join(d, m)));
    }
    for (const target of ['f', 'nope', '../x', '']) {
      await same(`symlink ${target} ${n}`, std, (api, d) => api.symlink(target, path.join(d, n)));
    }
  }
  await same('mkdir new', std, (api, d) => api.mkdir(path.join(d, 'new')));
  await same('mkdir new recursive', std, (api, d) => api.mkdir(path.join(d, 'a/b/c'), { recursive: true }));
  await same('rmdir recursive opts bad', std, (api, d) => api.rmdir(path.join(d, 'dir'), { maxRetries: -1 }));
  await same('rmdir opts null', std, (api, d) => api.rmdir(path.join(d, 'dir'), null as never));
  for (const type of ['dir', 'file', 'junction', 'bogus', '', null, undefined, 5, {}]) {
    await same(`symlink type ${String(type)}`, std, (api, d) => api.symlink('f', path.join(d, 'sl'), type as string));
    // Which comes first, the type or the paths, differs by Node version.
    await same(`symlink type ${String(type)} bad target`, std, (api, d) => api.symlink(5 as never, path.join(d, 'sl'), type as string));
    await same(`symlink type ${String(type)} bad path`, std, (api) => api.symlink('f', 'a\u0000b', type as string));
  }
  await same('symlink bad target', std, (api, d) => api.symlink(5 as never, path.join(d, 'sl')));
  await same('rename bad', std, (api, d) => api.rename(path.join(d, 'f'), {} as never));
  await same('link bad', std, (api) => api.link(null as never, 'x'));
  await same('rename Buffer paths', std, (api, d) => api.rename(Buffer.from(path.join(d, 'f')), Buffer.from(path.join(d, 'g'))));
  await same('unlink URL', std, (api, d) => api.unlink(pathToFileURL(path.join(d, 'f'))));
});

test('delegated calls behave as node (they are node)', { skip }, async () => {
  await same('readdir', std, (api, d) => api.readdir(d).then((x) => x.sort()));
  await same('readdir types', std, (api, d) => api.readdir(d, { withFileTypes: true }).then((x) => x.map((e) => [e.name, e.isFile()]).sort()));
  await same('readlink', std, (api, d) => api.readlink(path.join(d, 'lnk')));
  await same('realpath', std, (api, d) => api.realpath(path.join(d, 'lnk')).then((p) => path.basename(p)));
  await same('access', std, (api, d) => api.access(path.join(d, 'nope')));
  await same('copyFile', std, (api, d) => api.copyFile(path.join(d, 'f'), path.join(d, 'copy')));
  await same('rm', std, (api, d) => api.rm(path.join(d, 'dir'), { recursive: true }));
  await same('rm force', std, (api, d) => api.rm(path.join(d, 'nope'), { force: true }));
  await same('rm dir', std, (api, d) => api.rm(path.join(d, 'dir')));
});

test('every name node:fs/promises exports, uring exports too, and in its default export', () => {
  const missing = Object.keys(nodeFsp).filter((k) => k !== 'default' && !(k in uring));
  assert.deepStrictEqual(missing, []);
  const def = uring.default as unknown as Record<string, unknown>;
  const nodeDef = (nodeFsp as unknown as { default: Record<string, unknown> }).default;
  assert.deepStrictEqual(Object.keys(nodeDef).filter((k) => !(k in def)), []);
  assert.equal(def.readFile, uring.readFile);
  assert.equal(def.open, uring.open);
});

/**
 * A node binary that uid `uid` can run: this one, or a hard link (else a
 * copy) in a world-readable directory when this one sits somewhere closed to
 * others (npx's cache under a 0700 /root, as when testing on Node 24).
 */
function nodeForUid(uid: number): string {
  if (!spawnSync(process.execPath, ['-e', ''], { uid, gid: uid }).error) return process.execPath;
  const dir = tmpDir('node');
  roots.push(dir);
  fs.chmodSync(dir, 0o755);
  const bin = path.join(dir, 'node');
  try {
    fs.linkSync(process.execPath, bin);
  } catch {
    fs.copyFileSync(process.execPath, bin);
    fs.chmodSync(bin, 0o755);
  }
  return bin;
}

test('permission denied (chmod 000) as a non-root user, in a child process', { skip }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to switch to uid nobody');
    return;
  }
  const d = tmpDir('perm');
  roots.push(d);
  fs.chmodSync(d, 0o755);
  fs.writeFileSync(path.join(d, 'secret'), 'x');
  fs.chmodSync(path.join(d, 'secret'), 0o000);
  fs.mkdirSync(path.join(d, 'locked'));
  fs.writeFileSync(path.join(d, 'locked', 'f'), 'y');
  fs.chmodSync(path.join(d, 'locked'), 0o000);
  const mod = fileURLToPath(new URL('../src/fs/promises.js', import.meta.url));
  const script = `
    const nodeFsp = require('fs/promises');
    import(${JSON.stringify(mod)}).then(async (u) => {
      const d = ${JSON.stringify(d)};
      const calls = [
        (a) => a.readFile(d + '/secret'), (a) => a.open(d + '/secret', 'r'), (a) => a.writeFile(d + '/secret', 'z'),
        (a) => a.appendFile(d + '/secret', 'z'), (a) => a.readFile(d + '/locked/f'), (a) => a.stat(d + '/locked/f'),
        (a) => a.writeFile(d + '/locked/new', 'z'), (a) => a.unlink(d + '/secret'), (a) => a.mkdir(d + '/locked/m'),
        (a) => a.truncate(d + '/secret'), (a) => a.rename(d + '/secret', d + '/s2'), (a) => a.link(d + '/secret', d + '/locked/l'),
        (a) => a.symlink('x', d + '/locked/s'), (a) => a.writeFile(d + '/new', 'z'),
      ];
      const out = [];
      for (const c of calls) {
        const r = [];
        for (const a of [nodeFsp, u]) {
          try { await c(a); r.push('ok'); } catch (e) { r.push([e.code, e.errno, e.syscall, e.path, e.dest, e.message].join('|')); }
        }
        out.push(r);
      }
      console.log(JSON.stringify(out));
    });`;
  const r = spawnSync(nodeForUid(65534), ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/tmp' });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as [string, string][];
  let denied = 0;
  for (const [a, b] of rows) {
    assert.equal(b, a);
    if (a.startsWith('EACCES')) denied++;
  }
  assert.ok(denied >= 8, `expected EACCES cases, got ${JSON.stringify(rows)}`);
});

test('short writes (RLIMIT_FSIZE) continue, then fail with EFBIG like node', { skip }, async () => {
  const d = tmpDir('fsize');
  roots.push(d);
  const mod = fileURLToPath(new URL('../src/fs/promises.js', import.meta.url));
  const script = `
    const nodeFsp = require('fs/promises'); const fs = require('fs');
    import(${JSON.stringify(mod)}).then(async (u) => {
      const out = [];
      for (const [name, a] of [['node', nodeFsp], ['uring', u]]) {
        const p = ${JSON.stringify(d)} + '/' + name;
        let r;
        try { await a.writeFile(p, Buffer.alloc(30000, 1)); r = 'ok'; } catch (e) { r = [e.code, e.syscall, e.message].join('|'); }
        const fh = await a.open(p + '.h', 'w');
        const w = await fh.write(Buffer.alloc(30000, 2), 0, 30000, 0).then((x) => x.bytesWritten, (e) => e.code);
        await fh.close();
        out.push([r, fs.statSync(p).size, w]);
      }
      console.log(JSON.stringify(out));
    });`;
  const r = spawnSync('bash', ['-c', `ulimit -f 10; exec "${process.execPath}" -e "$0"`, script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [n, u] = JSON.parse(r.stdout) as unknown[][];
  assert.deepEqual(u, n);
  assert.equal((n as unknown[])[1], 10240);
});

test('an idle ring never keeps the process alive', { skip }, () => {
  const mod = fileURLToPath(new URL('../src/fs/promises.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then(async (u) => {
    await u.readFile('/etc/hostname'); const fh = await u.open('/etc/hostname'); await fh.read(Buffer.alloc(4), 0, 4, 0); await fh.close();
    await u.stat('/'); console.log('done');
  });`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'done');
  assert.ok(Date.now() - t0 < 15_000);
});
