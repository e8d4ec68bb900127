// User-defined schemes: handlers in worker threads (openScheme), handlers on
// the main thread served to worker clients (serveScheme/connectScheme), 64-bit
// results as extended CQEs, errors, cancellation, and a worker that dies.
// Runs the same whatever URING_BACKEND says: schemes are userspace rings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openScheme, serveScheme, constants as c, type Scheme, type SchemeHandlers } from '../src/index.js';
import { openFdCount } from './fs-common.js';

const fixture = new URL('./scheme-fixture.js', import.meta.url);

async function withScheme(opts: { workers?: number; fs?: boolean; entries?: number }, fn: (s: Scheme) => Promise<void>): Promise<void> {
  const s = await openScheme({ module: fixture, entries: 64, ...opts });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

test('a scheme served by workers: custom opcodes, zero-copy pool memory, chains', async () => {
  await withScheme({ workers: 2 }, async (s) => {
    assert.deepEqual([...s.opcodes].sort((a, b) => a - b), [128, 129, 130, 131, 132, 133, 134, 135, 136, 137]);
    assert.ok(s.supports(128) && s.supports(0) && !s.supports(22) && !s.supports(200), 'custom and core ops only');
    assert.equal(await s.call(128, { len: 42 }), 42);
    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => s.call(128, { len: i })));
    assert.ok(many.every((v, i) => v === i), 'every result reaches its own op');
    // The handler reverses pool memory in place: the same bytes, no copy.
    const c = s.pool.chunk(6);
    c.view(6).set([1, 2, 3, 4, 5, 6]);
    assert.equal(await s.call(129, { addr: c.addr, len: 6 }), 6);
    assert.deepEqual([...c.view(6)], [6, 5, 4, 3, 2, 1]);
    const str = s.pool.chunk(16);
    str.view(16).set(Buffer.from('héllo\0'));
    assert.equal(await s.call(136, { addr: str.addr }), 6);
    // Outside the pool: EFAULT.
    await assert.rejects(s.call(129, { addr: 12345, len: 4 }), { code: 'EFAULT' });
    s.pool.free(c);
    s.pool.free(str);
    // A failed link cancels the rest; a hard link does not.
    assert.deepEqual(await s.chain([[128, { len: 1 }], [132], [128, { len: 3 }]]), [1, -2, -125]);
    assert.deepEqual(await s.chain([[128, { len: 1 }], [132], [128, { len: 3 }]], { hard: true }), [1, -2, 3]);
    // Core ops work on a scheme ring too.
    assert.equal(await s.call(0), 0);
  });
});

test('results wider than 32 bits travel as extended CQE pairs', async () => {
  await withScheme({}, async (s) => {
    assert.equal(await s.call(131, { off: 3, len: 9 }), 3 * 2 ** 32 + 9);
    assert.equal(await s.call(131, { off: 2 ** 20, len: 0xffffffff }), 2 ** 52 + 0xffffffff);
    await assert.rejects(s.call(131, { off: 2, len: 1, opFlags: 1 }), (e: { errno?: number }) => e.errno === -(2 * 2 ** 32 + 1));
    // Interleaved with plain results, none disturbs another.
    const mixed = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? s.call(131, { off: i, len: i }) : s.call(128, { len: i }))));
    mixed.forEach((v, i) => assert.equal(v, i % 2 ? i * 2 ** 32 + i : i));
    assert.equal(s.stats().badCqes, 0);
  });
});

test('handler errors become Node-style errors; unknown opcodes are EINVAL', async () => {
  await withScheme({}, async (s) => {
    await assert.rejects(s.call(132), { code: 'ENOENT', errno: -2, syscall: 'scheme op 132' });
    await assert.rejects(s.call(135), { code: 'EIO' });
    await assert.rejects(s.call(200), { code: 'EINVAL' });
    await assert.rejects(s.call(300), { code: 'ERR_OUT_OF_RANGE' });
  });
});

test('async handlers: many in flight at once; closing cancels them (signal aborts)', async () => {
  await withScheme({}, async (s) => {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => s.call(130, { off: 20, len: i })));
    assert.ok(rs.every((v, i) => v === i));
    // 50 waits of 20 ms on one worker overlap (the worker keeps serving);
    // a generous bound, only to catch serialisation.
    assert.ok(performance.now() - t0 < 50 * 20, 'async handlers overlap');
    const long = assert.rejects(s.call(130, { off: 600_000, len: 1 }), { code: 'ERR_URING_CLOSED' });
    await new Promise((r) => setTimeout(r, 20));
    await s.close();
    await long;
  });
});

test('a worker that dies: its in-flight ops reject ERR_URING_WORKER_DIED exactly once, and a replacement serves', async () => {
  await withScheme({ workers: 1 }, async (s) => {
    let settled = 0;
    // Held by the one worker: async ops parked...
    const parked = [s.call(130, { off: 600_000, len: 2 }), s.call(130, { off: 600_000, len: 3 })];
    await new Promise((r) => setTimeout(r, 10));
    // ...and, in one batch with the killer, an op that completes but whose
    // CQE the worker never gets to publish.
    const unpublished = s.call(134, { off: 20, len: 1 });
    const killer = s.call(133);
    const victims = [...parked, unpublished, killer];
    for (const v of victims) v.then(() => settled++, () => settled++);
    await Promise.all(victims.map((p) => assert.rejects(p, { code: 'ERR_URING_WORKER_DIED' })));
    assert.equal(settled, 4);
    // The replacement takes over.
    assert.equal(await s.call(128, { len: 5 }), 5);
    assert.equal(s.backendStats().restarts, 1);
    assert.equal(settled, 4, 'nothing settled twice');
  });
});

test('terminating a worker mid-flight (as a crash would) fails exactly what it held', async () => {
  await withScheme({ workers: 2 }, async (s) => {
    const held = Array.from({ length: 20 }, (_, i) => s.call(130, { off: 600_000, len: i }));
    const died: number[] = [];
    held.forEach((p, i) => p.catch((e: { code?: string }) => e.code === 'ERR_URING_WORKER_DIED' && died.push(i)));
    const all = Promise.allSettled(held);
    // Wait until all 20 are parked, then count what worker 0 holds.
    const states = s.backend.view.ledgerStates(0);
    const others = s.backend.view.ledgerStates(1);
    const live = (a: Int32Array) => a.filter((x) => x !== 0).length;
    for (let i = 0; i < 500 && live(states) + live(others) < 20; i++) await new Promise((r) => setTimeout(r, 2));
    const mine = live(states);
    assert.equal(mine + live(others), 20);
    await s.backend.killWorker(0);
    for (let i = 0; i < 500 && died.length < mine; i++) await new Promise((r) => setTimeout(r, 2));
    assert.equal(died.length, mine, 'exactly what worker 0 held failed');
    assert.equal(await s.call(128, { len: 9 }), 9, 'the ring still serves');
    await s.close();
    const codes = (await all).map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
    assert.equal(codes.filter((c) => c === 'ERR_URING_WORKER_DIED').length, mine);
    assert.equal(codes.filter((c) => c === 'ERR_URING_CLOSED').length, 20 - mine);
  });
});

test('a full SQ never blocks the main thread: the overflow stays staged and goes in as the worker frees room', async () => {
  // The main thread must never Atomics.wait (it would stall every other
  // callback of the process). Count its calls: worker threads have their own
  // Atomics, so this only sees the main thread's.
  const realWait = Atomics.wait;
  let mainWaits = 0;
  Atomics.wait = ((...args: Parameters<typeof Atomics.wait>) => {
    mainWaits++;
    return realWait(...args);
  }) as typeof Atomics.wait;
  try {
    await withScheme({ workers: 1 }, async (s) => {
      const sqEntries = s.backend.sq.entries;
      const n = sqEntries * 4;
      // One worker that blocks a few ms per op: the SQ stays full while
      // more than it holds wait in staging.
      let settled = 0;
      const ops = Array.from({ length: n }, (_, i) => s.call(134, { off: 2, len: i }).finally(() => settled++));
      let ticks = 0;
      let ticksWhileFull = 0;
      let fullSeen = 0;
      await new Promise<void>((resolve) => {
        const tick = (): void => {
          ticks++;
          if (s.stats().staged > 0 && s.backend.sq.space() === 0) {
            ticksWhileFull++;
            fullSeen = settled;
          }
          if (settled === n) resolve();
          else setImmediate(tick);
        };
        setImmediate(tick);
      });
      const results = await Promise.all(ops);
      assert.deepEqual(results, Array.from({ length: n }, (_, i) => i));
      assert.ok(ticksWhileFull >= 2, `the event loop kept turning while the SQ was full (${ticksWhileFull} of ${ticks} turns)`);
      assert.ok(fullSeen < n, 'the SQ was full while ops were still pending');
      assert.equal(s.stats().staged, 0);
      assert.equal(s.stats().inflight, 0);
    });
  } finally {
    Atomics.wait = realWait;
  }
  assert.equal(mainWaits, 0, 'the main thread never called Atomics.wait');
});

const LEDGER_RUNNING = 3;

test('a worker that dies mid-job: the fds its dead jobs opened are closed, the ones the client owns stay open (S3/S7)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-fdrec-'));
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'x');
  const ino = fs.statSync(file).ino;
  try {
    await withScheme({ workers: 1, fs: true }, async (s) => {
      const name = s.pool.chunk(file.length + 1);
      name.view().set(Buffer.from(file + '\0'));
      const table = new Int32Array(16).fill(-1);
      assert.equal(s.backend.register(c.IORING_REGISTER_FILES, table, table.length), 0);
      const open = (direct = false) =>
        s.call(c.IORING_OP_OPENAT, { fd: c.AT_FDCWD, addr: name.addr, opFlags: fs.constants.O_RDONLY, fileIndex: direct ? c.IORING_FILE_INDEX_ALLOC : 0 });
      const host = s.backend.host;
      fs.closeSync(await open()); // warm: the worker and its loop are up
      await host.allReady();
      const fds0 = openFdCount();

      // Delivered: the client owns these (and two direct descriptors).
      const owned = await Promise.all(Array.from({ length: 8 }, () => open()));
      const ownedSlots = await Promise.all([open(true), open(true)]);
      assert.equal(openFdCount(), fds0 + 10);

      // process.exit in a handler: opens whose CQEs sit unpublished in the
      // worker when it exits (one batch: one claim, run in order).
      const batch1 = [...Array.from({ length: 6 }, () => open()), open(true), open(true), s.call(133)];
      await Promise.all(batch1.map((p) => assert.rejects(p, { code: 'ERR_URING_WORKER_DIED' })));
      await host.allReady(); // the replacement's own fds are there
      assert.equal(openFdCount(), fds0 + 10, 'no fd of the dead jobs leaked (exit)');

      // terminate() while the worker blocks in a handler after the opens.
      const before = host.restarts;
      const batch2 = [...Array.from({ length: 6 }, () => open()), open(true), s.call(134, { off: 600_000 })];
      const settled2 = Promise.allSettled(batch2);
      // Kill only once the blocking op runs: the opens before it (same
      // claim, run in order) are all done then, their CQEs unpublished.
      const states = s.backend.view.ledgerStates(0);
      const sqes = s.backend.view.ledgerSqes(0);
      const blocking = () => states.some((st, slot) => st === LEDGER_RUNNING && (sqes[slot * 16]! & 0xff) === 134);
      for (let i = 0; i < 2000 && !blocking(); i++) await new Promise((r) => setTimeout(r, 2));
      assert.ok(blocking(), 'the blocking op runs');
      await s.backend.killWorker(0);
      const out2 = await settled2;
      assert.ok(out2.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'ERR_URING_WORKER_DIED'));
      assert.equal(host.restarts, before + 1);
      await host.allReady();
      assert.equal(openFdCount(), fds0 + 10, 'no fd of the dead jobs leaked (terminate)');
      assert.equal(host.fdsRecovered, 6 + 2 + 6 + 1, 'recovery closed every fd the dead jobs opened');

      // What the client owned survived both deaths, and the ring goes on.
      for (const fd of owned) assert.equal(fs.fstatSync(fd).ino, ino);
      assert.equal(s.backendStats().restarts, 2);
      for (const slot of ownedSlots) assert.equal(await s.call(c.IORING_OP_CLOSE, { fileIndex: slot + 1 }), 0);
      // Every other table slot is empty: closing one fails with EBADF.
      for (let slot = 0; slot < table.length; slot++) {
        if (!ownedSlots.includes(slot)) await assert.rejects(s.call(c.IORING_OP_CLOSE, { fileIndex: slot + 1 }), { code: 'EBADF' });
      }
      for (const fd of owned) fs.closeSync(fd);
      assert.equal(openFdCount(), fds0);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a module that cannot load: openScheme rejects with the reason', async () => {
  await assert.rejects(openScheme({ module: new URL('./no-such-scheme.js', import.meta.url) }), { code: 'ERR_URING_SCHEME_LOAD' });
  const bad = `data:text/javascript,export default { 12: () => 0 }`;
  await assert.rejects(openScheme({ module: bad }), (e: Error & { code?: string }) => e.code === 'ERR_URING_SCHEME_LOAD' && /outside 128\.\.255/.test(e.message));
});

test('waiting for replies: a consumer spins briefly for a fast producer, and stops spinning for slow ops', { skip: os.availableParallelism() < 2 ? 'one CPU: the consumer never spins' : false }, async () => {
  await withScheme({ workers: 1, entries: 16 }, async (s) => {
    // Slow ops (5 ms each, one at a time): every spin misses, the budget
    // halves at each miss and reaches nothing; most arms then skip the spin.
    const before = s.backendStats();
    for (let k = 0; k < 30; k++) assert.equal(await s.call(134, { off: 5, len: k }), k);
    const slow = s.backendStats();
    const misses = slow.spinMisses - before.spinMisses;
    const skips = slow.spinSkips - before.spinSkips;
    assert.ok(misses >= 1, 'no spin was tried while ops were in flight');
    assert.ok(skips > misses, `spins kept going on ops that take milliseconds: ${misses} misses, ${skips} skips over 30 ops`);
    // Fast echoes, many queued so the worker stays awake, in batches of 16
    // (the ring's size) that it answers in microseconds: at least sometimes
    // the answer comes while we watch, and then it sends no notify.
    for (let round = 0; round < 50 && s.backendStats().spinHits === slow.spinHits; round++) {
      const rs = await Promise.all(Array.from({ length: 16 * 200 }, (_, i) => s.call(128, { len: i })));
      assert.ok(rs.every((v, i) => v === i), 'every echo reaches its own op');
    }
    assert.ok(s.backendStats().spinHits > slow.spinHits, 'no spin ever saw a reply arrive');
  });
});

test('the reverse direction: the main thread serves, a worker thread submits', async () => {
  const seen: number[] = [];
  const handlers: SchemeHandlers = {
    128: (req) => {
      seen.push(req.len);
      return req.len;
    },
    129: (req, ctx) => {
      ctx.bytes(req.addr, req.len).reverse();
      return req.len;
    },
    130: async (req) => {
      await new Promise((r) => setTimeout(r, req.off));
      return req.len;
    },
    131: (req) => req.off * 2 ** 32 + req.len,
    132: () => {
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    },
  };
  const server = serveScheme(handlers, { entries: 32 });
  const handle = server.connect();
  const w = new Worker(new URL('./scheme-client-fixture.js', import.meta.url), { workerData: handle, transferList: [handle.port] });
  const exited = new Promise((r) => w.once('exit', r));
  const out = await new Promise<Record<string, unknown>>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await exited;
  server.close();
  assert.deepEqual(out, {
    echo: 42,
    sync: 7,
    reversed: 5,
    bytes: [5, 4, 3, 2, 1],
    many: true,
    big: 3 * 2 ** 32 + 9,
    error: { code: 'ENOENT', errno: -2 },
    syncError: 'ENOENT',
    chain: [1, -2, -125],
    async: 11,
    unknown: 'EINVAL',
  });
  assert.ok(seen.length >= 203, 'the handlers ran here, on the main thread');
});

test('an idle scheme server and an idle scheme never keep the process alive', async () => {
  const { spawnSync } = await import('node:child_process');
  const entry = new URL('../src/index.js', import.meta.url).href;
  const script = `
    const { openScheme, serveScheme } = await import(${JSON.stringify(entry)});
    const s = await openScheme({ module: new URL(${JSON.stringify(fixture.href)}) });
    console.log(await s.call(128, { len: 1 }));
    const server = serveScheme({ 128: (r) => r.len });
    server.connect();
    globalThis.keep = [s, server];
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1\n');
});
