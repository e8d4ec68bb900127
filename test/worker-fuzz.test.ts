// S6 on the userspace ring: a hostile peer writes random CQEs, replays stale
// tags, sets unknown flags and publishes impossible CQ tails, all while real
// ops are in flight. Nothing may crash, every real op settles exactly once
// with its true value, and every forgery is counted as a bad CQE.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ring, WorkerBackend } from '../src/index.js';
import { lock, unlock, postCqes } from '../src/backends/worker/layout.js';
import { tempDir, closeLater, mulberry32, randomBytes } from './helpers.js';

const FUZZ_OWNER = 0x20000;

test('random CQEs, stale tags, garbage flags and impossible tails never settle an op wrongly', { timeout: 120_000 }, async (t) => {
  const ring = new Ring({ backend: 'worker', entries: 64 });
  const b = ring.backend as WorkerBackend;
  const v = b.view;
  const i32 = v.i32;
  const entries = v.layout.cqEntries;
  const rand = mulberry32(0x5eedf022);
  const dir = tempDir(t);
  const data = randomBytes(64 * 1024, 9);
  const p = path.join(dir, 'data');
  fs.writeFileSync(p, data);
  const fd = fs.openSync(p, 'r');
  closeLater(t, fd);

  const stale: Array<[number, number]> = [];
  let injected = 0;
  let episodes = 0;
  let fuzzing = true;

  /** Appends `n` CQEs of our making at the tail, under the CQ lock, as a producer would. */
  const forge = (n: number, make: () => [number, number, number, number]) => {
    const cqes = new Int32Array(n * 4);
    for (let k = 0; k < n; k++) cqes.set(make(), k * 4);
    injected += postCqes(v, cqes, 0, n, FUZZ_OWNER, false);
    ring.executor.drain();
  };

  /** Publishes an impossible tail, lets the consumer resynchronise, then re-posts the real CQEs it skipped. */
  const garbageTail = () => {
    if (!lock(i32, v.cqLock, FUZZ_OWNER, false, 100_000)) return;
    const head = Atomics.load(i32, v.cqHead) >>> 0;
    const tail = Atomics.load(i32, v.cqTail) >>> 0;
    const real = new Int32Array(((tail - head) >>> 0) * 4);
    for (let k = 0; k < real.length / 4; k++) real.set(i32.subarray(v.cqesBase + (((head + k) & (entries - 1)) << 2), v.cqesBase + (((head + k) & (entries - 1)) << 2) + 4), k * 4);
    const garbage = rand() < 0.5 ? head + entries + 1 + Math.floor(rand() * 1e6) : head - 1 - Math.floor(rand() * entries);
    Atomics.store(i32, v.cqTail, garbage | 0);
    unlock(i32, v.cqLock);
    ring.executor.drain(); // sees the impossible tail: counts it, jumps to it
    episodes++;
    if (real.length > 0) assert.equal(postCqes(v, real, 0, real.length / 4, FUZZ_OWNER, false), real.length / 4);
    ring.executor.drain();
  };

  const fuzz = () => {
    if (!fuzzing) return;
    const r = rand();
    if (r < 0.4) forge(1 + Math.floor(rand() * 4), () => [(rand() * 2 ** 32) | 0, (rand() * 2 ** 32) | 0, (rand() * 2 ** 32) | 0, (rand() * 2 ** 32) | 0]);
    else if (r < 0.7 && stale.length > 0) {
      forge(1 + Math.floor(rand() * 3), () => {
        const [slot, gen] = stale[Math.floor(rand() * stale.length)]!;
        return [slot, gen, Math.floor(rand() * 1000), 0];
      });
    } else if (r < 0.85) forge(1, () => [0, 0, 0, 1 << (5 + Math.floor(rand() * 8))]); // flags nobody defined
    else if (r < 0.95) garbageTail();
    setImmediate(fuzz);
  };
  setImmediate(fuzz);

  let settledTwice = 0;
  t.after(() => void (fuzzing = false));
  for (let round = 0; round < 40; round++) {
    const ops: Array<{ p: Promise<unknown>; want: unknown; tag: [number, number]; buf?: Uint8Array; off?: number }> = [];
    for (let k = 0; k < 48; k++) {
      const kind = rand();
      let op: Promise<unknown>;
      let want: unknown;
      let buf: Uint8Array | undefined;
      let off: number | undefined;
      if (kind < 0.4) {
        op = ring.nop();
        want = 0;
      } else if (kind < 0.6) {
        op = ring.timeout(1 + Math.floor(rand() * 5));
        want = 0;
      } else {
        off = Math.floor(rand() * (data.length - 512));
        buf = new Uint8Array(1 + Math.floor(rand() * 512));
        op = ring.read(fd, buf, off);
        want = buf.length;
      }
      // The op's tag, as its SQE carries it.
      const at = ring.executor.lastSqe();
      ops.push({ p: op, want, tag: [ring.executor.sqes[at + 8]!, ring.executor.sqes[at + 9]!], ...(buf ? { buf, off } : {}) });
    }
    const counts = new Array<number>(ops.length).fill(0);
    ops.forEach((o, k) => o.p.then(() => counts[k]!++, () => counts[k]!++));
    const got = await Promise.all(ops.map((o) => o.p));
    got.forEach((value, k) => {
      const o = ops[k]!;
      assert.equal(value, o.want, `op ${k} of round ${round} settled with a forged value`);
      if (o.buf) assert.deepEqual(o.buf, data.subarray(o.off!, o.off! + o.buf.length));
      stale.push(o.tag); // finished: from now on its tag is stale
    });
    await new Promise((r) => setImmediate(r));
    settledTwice += counts.filter((n) => n !== 1).length;
  }
  fuzzing = false;
  assert.equal(settledTwice, 0, 'every op settled exactly once');
  const s = ring.stats();
  assert.equal(s.inflight, 0);
  assert.ok(injected > 100 && episodes > 10, `the fuzzer did its job (${injected} CQEs, ${episodes} bad tails)`);
  assert.ok(s.badCqes >= injected + episodes, `${s.badCqes} bad CQEs counted for ${injected} forged and ${episodes} bad tails`);
  // The ring is still sound.
  assert.deepEqual(await Promise.all([ring.nop(), ring.nop()]), [0, 0]);
  await ring.close();
});
