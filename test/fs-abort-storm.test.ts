// Abort storms (issue #13): servers cancel requests when clients go away,
// so readFile must survive any number of aborted calls in any phase. Each
// storm checks that every promise settles (S3), that the process survives
// (a recursion over a long line of aborted waiters once overflowed the
// stack), that the fd table is as before (S7: on the worker backend, a
// cancel once waited 100 ms per op for an ack its own thread could never
// send, and descriptors stayed open meanwhile), and that pool memory is
// back at its starting level (S2).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as uring from '../src/fs/promises.js';
import { readFileStats } from '../src/fs/readfile.js';
import { runtimeOrSkip, tmpDir, openFds, workersUp, assertClean, poolBaseline, quiesce } from './fs-common.js';
import type { FsRuntime } from '../src/fs/runtime.js';

const r = runtimeOrSkip();
const skip = typeof r === 'string' ? r : false;
const rt = r as FsRuntime;
if (!skip) await workersUp(rt);

const dir = tmpDir('storm');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const SMALL = path.join(dir, 'small');
const BIG = path.join(dir, 'big');
const small = Buffer.alloc(100, 0x61);
const big = Buffer.alloc(8 << 20);
for (let i = 0; i < big.length; i += 4096) big[i] = (i >>> 12) & 0xff;
fs.writeFileSync(SMALL, small);
fs.writeFileSync(BIG, big);

/** When the signal fires, relative to the call. */
type When = 'before' | 'now' | 'microtask' | 'immediate' | 'timer';

interface Storm {
  calls: number;
  /** Calls issued before awaiting them all. */
  batch: number;
  when: (i: number) => When;
}

function abortAt(ac: AbortController, when: When): void {
  if (when === 'now') ac.abort();
  else if (when === 'microtask') queueMicrotask(() => ac.abort());
  else if (when === 'immediate') setImmediate(() => ac.abort());
  else if (when === 'timer') setTimeout(() => ac.abort(), 1);
}

/** Runs a storm and returns how many calls completed and how many aborted; fails on anything else. */
async function storm(s: Storm): Promise<{ ok: number; aborted: number }> {
  let ok = 0;
  let aborted = 0;
  const ps: Promise<void>[] = [];
  for (let i = 0; i < s.calls; i++) {
    const when = s.when(i);
    const ac = new AbortController();
    if (when === 'before') ac.abort();
    const want = i % 2 ? big : small;
    const p = uring.readFile(i % 2 ? BIG : SMALL, { signal: ac.signal }).then(
      (b) => {
        assert.ok((b as Buffer).equals(want), 'a completed readFile returns the whole file');
        ok++;
      },
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'AbortError', `unexpected ${e.message}`);
        assert.equal(e.code, 'ABORT_ERR');
        aborted++;
      },
    );
    abortAt(ac, when);
    ps.push(p);
    if (ps.length >= s.batch) {
      await Promise.all(ps);
      ps.length = 0;
    }
  }
  await Promise.all(ps);
  assert.equal(ok + aborted, s.calls, 'every call settled exactly once');
  return { ok, aborted };
}

async function checked(s: Storm): Promise<{ ok: number; aborted: number }> {
  await uring.readFile(SMALL); // the runtime (and its workers) are up before the first count
  await quiesce(rt); // and the warm-up's descriptor is closed (that close runs after it resolves)
  const fds0 = openFds();
  const pool0 = poolBaseline(rt);
  const out = await storm(s);
  await assertClean(rt, fds0, pool0);
  assert.deepEqual(readFileStats(), { active: 0, waiting: 0 });
  return out;
}

const thirds = (i: number): When => (['now', 'microtask', 'immediate'] as const)[i % 3]!;

test('the issue #13 storm: 20,000 readFiles, 256 at a time, aborted now, in a microtask or in setImmediate', { skip, timeout: 180_000 }, async () => {
  const { aborted } = await checked({ calls: 20_000, batch: 256, when: thirds });
  assert.ok(aborted >= (20_000 * 2) / 3, `aborted ${aborted}`);
});

test('100,000 aborted readFiles issued 20,000 at a time: a line far past the chain limit', { skip, timeout: 180_000 }, async () => {
  const { aborted } = await checked({ calls: 100_000, batch: 20_000, when: thirds });
  assert.ok(aborted >= (100_000 * 2) / 3, `aborted ${aborted}`);
});

test('aborts before the call, during the open and after it (a timer: the big file is mid-read)', { skip, timeout: 180_000 }, async () => {
  const phases = ['before', 'now', 'microtask', 'immediate', 'timer', 'timer'] as const;
  const { ok, aborted } = await checked({ calls: 6000, batch: 1000, when: (i) => phases[Math.floor(i / 2) % phases.length]! });
  assert.ok(aborted >= 3000, `aborted ${aborted}`);
  assert.ok(ok + aborted === 6000);
});

test('a line of aborted waiters moves: calls queued behind it still complete', { skip, timeout: 60_000 }, async () => {
  await uring.readFile(SMALL);
  await quiesce(rt);
  const fds0 = openFds();
  const pool0 = poolBaseline(rt);
  // Fill the room, then queue 50,000 already-aborted calls, then real ones.
  const room = Array.from({ length: 300 }, () => uring.readFile(SMALL));
  const dead = Array.from({ length: 50_000 }, () => uring.readFile(SMALL, { signal: AbortSignal.abort() }).then(() => 'ok', (e: Error) => e.name));
  const live = Array.from({ length: 300 }, () => uring.readFile(SMALL));
  assert.ok((await Promise.all(room)).every((b) => (b as Buffer).equals(small)));
  assert.ok((await Promise.all(dead)).every((x) => x === 'AbortError'));
  assert.ok((await Promise.all(live)).every((b) => (b as Buffer).equals(small)));
  await assertClean(rt, fds0, pool0);
});
