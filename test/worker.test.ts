// The worker backend on its own terms, whatever URING_BACKEND says: the
// userspace ring protocol (indices crossing 2^32, wakeups only for sleepers),
// links and CQE_SKIP_SUCCESS, registered files, a worker that dies, process
// lifetime, and backend selection. ring.ops.test.ts covers every op against
// node:fs on whichever backend the suite runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Ring, WorkerBackend, constants as c } from '../src/index.js';
import { Executor } from '../src/executor/executor.js';
import { fsSchemeTable } from '../src/schemes/fs-scheme.js';
import { prep_nop } from '../src/abi/prep.js';
import { ringLayout, createRing, RingView, HostView, postCqes, wakeConsumer } from '../src/backends/worker/layout.js';
import { RingConsumer } from '../src/backends/worker/consumer.js';
import { tempDir, closeLater, openFds } from './helpers.js';

const ECANCELED = 125;
const entry = new URL('../src/index.js', import.meta.url).href;

function workerRing(opts: { entries?: number; workers?: number } = {}): Ring {
  return new Ring({ backend: 'worker', entries: opts.entries ?? 32, ...(opts.workers ? { workers: opts.workers } : {}) });
}

/** NOPs straight through an executor, for a backend built by hand. */
function nops(ex: Executor, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, () => {
      const job = ex.begin('nop');
      const at = ex.add(job);
      prep_nop(ex.sqes, at);
      return ex.commit<number>(job);
    }),
  );
}

test('ring indices cross 2^32: SQ and CQ heads and tails wrap, every op settles once', async () => {
  for (const sqArray of [false, true]) {
    const b = new WorkerBackend({ entries: 8, cqEntries: 16, tables: [fsSchemeTable], start: 0xffffffff - 40, sqArray });
    const ex = new Executor(b);
    const v = b.view;
    let total = 0;
    for (let round = 0; round < 6; round++) {
      const got = await nops(ex, 50);
      assert.ok(got.every((r) => r === 0));
      total += 50;
    }
    // A chain and a timeout across the wrap too.
    const job = ex.begin('chain');
    let at = ex.add(job);
    prep_nop(ex.sqes, at);
    at = ex.add(job);
    prep_nop(ex.sqes, at);
    job.done = (j) => j.res.slice();
    assert.deepEqual(await ex.commit(job), [0, 0]);
    total += 2;
    const u = (i: number) => v.i32[i]! >>> 0;
    const want = (0xffffffff - 40 + total) >>> 0;
    assert.ok(want < 1000, 'the indices wrapped');
    assert.deepEqual([u(v.sqHead), u(v.sqTail), u(v.cqHead), u(v.cqTail)], [want, want, want, want]);
    assert.equal(ex.stats().badCqes, 0);
    assert.equal(b.setupFlags & c.IORING_SETUP_NO_SQARRAY ? 'none' : 'array', sqArray ? 'array' : 'none');
    await ex.close();
  }
});

test('wakeups: a producer is notified only when it sleeps, the consumer only when it sleeps, once per sleep', () => {
  const layout = ringLayout(8, 16, 2, false);
  const v = new RingView(createRing(layout), layout);
  const host = new HostView(new SharedArrayBuffer(HostView.BYTES));
  const consumer = new RingConsumer(v, host);
  // Nobody sleeps: publishing costs no notify.
  consumer.wake(4);
  assert.equal(consumer.stats().producerWakes, 0);
  const seq = Atomics.load(host.i32, host.eventSeq);
  Atomics.store(v.i32, v.sleepBase + 1, 1); // producer 1 says it sleeps
  consumer.wake(4);
  assert.equal(consumer.stats().producerWakes, 1);
  assert.notEqual(Atomics.load(host.i32, host.eventSeq), seq, 'the sleeper sees the bell move');
  // The consumer side: a CQE posted while the consumer is awake wakes nobody.
  const cqe = new Int32Array([1, 2, 0, 0]);
  assert.equal(postCqes(v, cqe, 0, 1, 1, true), 1);
  wakeConsumer(v);
  assert.equal(consumer.stats().consumerWakes, 0);
  Atomics.store(v.i32, v.consumerSleep, 1);
  wakeConsumer(v);
  wakeConsumer(v);
  assert.equal(consumer.stats().consumerWakes, 1, 'one notify per sleep');
  assert.equal(Atomics.load(v.i32, v.consumerSleep), 0);
  consumer.destroy();
});

test('a busy ring batches: far fewer wakeups than ops, in both directions', async () => {
  const ring = workerRing({ entries: 128 });
  const b = ring.backend as WorkerBackend;
  const before = b.stats();
  const N = 20_000;
  let done = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (done < N) {
        done++;
        assert.equal(await ring.nop(), 0);
      }
    }),
  );
  const s = b.stats();
  const wakes = s.producerWakes - before.producerWakes + s.consumerWakes - before.consumerWakes;
  assert.ok(wakes < N / 8, `${wakes} wakeups for ${N} ops`);
  await ring.close();
});

test('links and CQE_SKIP_SUCCESS on the worker backend, as the kernel does them', async (t) => {
  const ring = workerRing();
  const dir = tempDir(t);
  const p = path.join(dir, 'f');
  fs.writeFileSync(p, 'abcdef');
  const fd = fs.openSync(p, 'r');
  closeLater(t, fd);
  const b6 = new Uint8Array(6);
  // Skipped on success: no CQE for the first two (their results read 0), only the last posts.
  const before = ring.stats().reaped;
  assert.deepEqual(await ring.chain().nop().flags(c.IOSQE_CQE_SKIP_SUCCESS).read(fd, b6, 0).flags(c.IOSQE_CQE_SKIP_SUCCESS).nop().submit(), [0, 0, 0]);
  assert.equal(ring.stats().reaped - before, 1, 'one CQE for three SQEs');
  // A failed member cancels the rest; its skip flag does not hide the failure.
  const bad = await ring.chain().read(-5, b6, 0).flags(c.IOSQE_CQE_SKIP_SUCCESS).nop().nop().submit();
  assert.deepEqual(bad, [-9, -ECANCELED, -ECANCELED]);
  // Hard links go on; a short read breaks a soft link.
  assert.deepEqual(await ring.chain().read(-5, b6, 0).nop().submit({ hard: true }), [-9, 0]);
  assert.deepEqual(await ring.chain().read(fd, new Uint8Array(64), 0).nop().submit(), [6, -ECANCELED]);
  // A timeout in a chain holds the rest back until it fires.
  const t0 = performance.now();
  assert.deepEqual(await ring.chain().timeout(30).nop().submit({ hard: true }), [0, 0]);
  assert.ok(performance.now() - t0 >= 25);
  assert.equal(ring.stats().badCqes, 0);
  await ring.close();
});

test('registered files: REGISTER_FILES, sparse tables, updates, direct descriptors closed on unregister (S7)', async (t) => {
  const ring = workerRing();
  const b = ring.backend;
  const dir = tempDir(t);
  const a = path.join(dir, 'a');
  fs.writeFileSync(a, 'alpha');
  const fd = fs.openSync(a, 'r');
  closeLater(t, fd);
  assert.equal(b.register(c.IORING_UNREGISTER_FILES, null, 0), -6, 'ENXIO without a table');
  assert.equal(b.register(c.IORING_REGISTER_FILES, new Int32Array([fd, -1]), 2), 0);
  assert.equal(b.register(c.IORING_REGISTER_FILES, new Int32Array([fd]), 1), -16, 'EBUSY: one table at a time');
  const buf = new Uint8Array(5);
  assert.deepEqual(await ring.chain().read(0, buf, 0).flags(c.IOSQE_FIXED_FILE).submit(), [5]);
  assert.equal(Buffer.from(buf).toString(), 'alpha');
  assert.deepEqual(await ring.chain().read(1, buf, 0).flags(c.IOSQE_FIXED_FILE).submit(), [-9]);
  // Direct descriptors opened into the table belong to it.
  assert.equal(await ring.openat_direct(c.AT_FDCWD, a, fs.constants.O_RDONLY, 0, 1), 0);
  await (b as WorkerBackend).host.allReady(); // a worker still booting would open fds of its own
  const fdsWith = openFds().length;
  assert.equal(b.register(c.IORING_UNREGISTER_FILES, null, 0), 0);
  assert.equal(openFds().length, fdsWith - 1, 'the direct descriptor was closed, the user fd was not');
  assert.equal(fs.fstatSync(fd).isFile(), true);
  // Sparse table through ring.ts, with the kernel's numbering.
  ring.registerFilesSparse(4);
  assert.equal(await ring.openat_direct(c.AT_FDCWD, a, fs.constants.O_RDONLY, 0, c.IORING_FILE_INDEX_ALLOC), 0);
  assert.equal(await ring.files_update([fd], 3), 1);
  assert.deepEqual(await ring.chain().read(3, buf, 0).flags(c.IOSQE_FIXED_FILE).submit(), [5]);
  assert.equal(await ring.close_direct(0), 0);
  // Registered buffers are bookkeeping; unknown opcodes are refused.
  assert.equal(b.register(0xdead, null, 0), -22);
  const probe = new Uint8Array(16 + 256 * 8);
  assert.equal(b.register(c.IORING_REGISTER_PROBE, probe, 256), 0);
  assert.equal(probe[16 + c.IORING_OP_READ * 8 + 2]! & 1, 1);
  assert.equal(probe[16 + c.IORING_OP_SPLICE * 8 + 2]! & 1, 0);
  await ring.close();
});

test('what userspace cannot do is refused, never faked', async () => {
  const ring = workerRing();
  for (const op of [c.IORING_OP_SPLICE, c.IORING_OP_TEE, c.IORING_OP_POLL_ADD, c.IORING_OP_MADVISE, c.IORING_OP_SEND, c.IORING_OP_FALLOCATE]) {
    assert.equal(ring.supports(op), false, c.IORING_OP_NAMES[op]);
  }
  await assert.rejects(ring.splice(0, -1, 1, -1, 1), { code: 'EINVAL' });
  await ring.close();
});

test('a ring whose worker dies: its ops reject ERR_URING_WORKER_DIED, the ring goes on', async () => {
  const ring = workerRing({ workers: 1 });
  const b = ring.backend as WorkerBackend;
  const timeouts = Array.from({ length: 5 }, () => ring.timeout(600_000));
  const checks = timeouts.map((p) => assert.rejects(p, { code: 'ERR_URING_WORKER_DIED' }));
  for (let i = 0; i < 500 && b.view.ledgerStates(0).filter((x) => x !== 0).length < 5; i++) await new Promise((r) => setTimeout(r, 2));
  await b.killWorker(0);
  await Promise.all(checks);
  assert.equal(await ring.nop(), 0);
  assert.equal(b.stats().restarts, 1);
  await ring.close();
});

function child(script: string, env: Record<string, string | undefined> = {}, args: string[] = []) {
  return spawnSync(process.execPath, [...args, '--input-type=module', '-e', `const u = await import(${JSON.stringify(entry)});\n${script}`], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
}

test('an idle worker ring lets the process exit; an op in flight keeps it alive', () => {
  const idle = child(`const r = new u.Ring(); await r.nop(); globalThis.keep = r; console.log('idle');`, { URING_BACKEND: 'worker' });
  assert.equal(idle.status, 0, idle.stderr);
  assert.equal(idle.stdout, 'idle\n');
  const busy = child(`const r = new u.Ring(); r.timeout(200).then((v) => console.log('fired', v)); console.log('waiting');`, { URING_BACKEND: 'worker' });
  assert.equal(busy.status, 0, busy.stderr);
  assert.equal(busy.stdout, 'waiting\nfired 0\n');
});

test('selection: kernel by default, worker when forced, worker (with the reason) when io_uring cannot load', () => {
  const show = `const r = new u.Ring(); console.log(JSON.stringify(u.backendInfo()), r.backend.name, await r.nop()); await r.close();`;
  const forced = child(show, { URING_BACKEND: 'worker' });
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(forced.stdout, '{"name":"worker","reason":"forced by URING_BACKEND=worker"} worker 0\n');
  const byDefault = child(show, { URING_BACKEND: undefined });
  assert.equal(byDefault.status, 0, byDefault.stderr);
  const kernelWorks = /"name":"kernel"/.test(byDefault.stdout);
  assert.match(byDefault.stdout, kernelWorks ? /"reason":"io_uring is available"\} kernel 0/ : /"reason":"io_uring unavailable: .*"\} worker 0/);
  // No addon (as on macOS, or a failed build): the fallback, and why.
  const noAddon = `data:text/javascript,process.dlopen = () => { throw new Error('simulated: no addon') }`;
  const fallback = child(show, { URING_BACKEND: undefined }, ['--import', noAddon]);
  assert.equal(fallback.status, 0, fallback.stderr);
  assert.match(fallback.stdout, /^\{"name":"worker","reason":"io_uring unavailable: .*simulated: no addon.*"\} worker 0\n$/);
  const forcedKernel = child(show, { URING_BACKEND: 'kernel' }, ['--import', noAddon]);
  assert.notEqual(forcedKernel.status, 0);
  assert.match(forcedKernel.stderr, /ERR_URING_UNAVAILABLE/);
  const bogus = child(show, { URING_BACKEND: 'bogus' });
  assert.match(bogus.stderr, /URING_BACKEND must be "kernel" or "worker"/);
});

test('rings share one set of worker threads unless they ask for their own', async () => {
  const a = workerRing();
  const b = workerRing();
  const own = workerRing({ workers: 1 });
  assert.equal((a.backend as WorkerBackend).host, (b.backend as WorkerBackend).host);
  assert.notEqual((own.backend as WorkerBackend).host, (a.backend as WorkerBackend).host);
  assert.deepEqual(await Promise.all([a.nop(), b.nop(), own.nop()]), [0, 0, 0]);
  await Promise.all([a.close(), b.close(), own.close()]);
});

test('a timeout with a count completes after that many other completions', async () => {
  const ring = workerRing();
  const t2 = ring.timeout(600_000, 3);
  await ring.nop();
  await ring.nop();
  const state = await Promise.race([t2.then(() => 'done'), new Promise((r) => setTimeout(r, 50, 'waiting'))]);
  assert.equal(state, 'waiting', 'two completions are not three');
  await ring.nop();
  assert.equal(await t2, 0);
  await ring.close();
});

test('a cancel of an op that finished but is not yet published answers -ENOENT at once (no ack wait)', async (t) => {
  // One worker: the NOPs and their cancels land in one producer, which runs
  // them all in one turn; every NOP has finished (its CQE buffered) when its
  // cancel runs. A cancel once treated such an entry as running and waited
  // 100 ms for an ack its own thread could never send: abort storms stalled
  // and held descriptors open meanwhile.
  const ring = new Ring({ backend: 'worker', entries: 256, workers: 1 });
  const backend = ring.executor.backend as WorkerBackend;
  await ring.nop(); // the worker is up
  const p = path.join(tempDir(t), 'f');
  fs.writeFileSync(p, 'abcd');
  const fd = fs.openSync(p, 'r');
  closeLater(t, fd);
  for (let round = 0; round < 4; round++) {
    const ops = Array.from({ length: 64 }, () => ring.read(fd, new Uint8Array(4), 0));
    const cancels = ops.map((op) => ring.cancel(op));
    assert.deepEqual(await Promise.all(ops), new Array(64).fill(4));
    const res = await Promise.all(cancels.map((p) => p.then((v) => v, (e: { errno: number }) => e.errno)));
    assert.ok(res.every((r) => r === -2), `cancels answered ${[...new Set(res)].join(', ')}, not -ENOENT`);
  }
  assert.equal(backend.stats().ackTimeouts, 0, 'a cancel waited for an ack');
  await ring.close();
});
