// Process lifecycle (S4), in child processes: an idle ring never keeps the
// process alive, an op in flight does, and exiting with ops in flight (or
// dropping rings without closing them) is clean. The timeouts only stop a
// hung child; nothing here measures speed.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, backendUnavailable } from './helpers.js';

const entry = fileURLToPath(new URL('../src/index.js', import.meta.url));
const LIMIT_MS = 10_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs an inline ESM script that has `uring` (the built package) in scope. */
function child(body: string, opts: { args?: string[] } = {}): Promise<Outcome> {
  const script = `import * as uring from ${JSON.stringify(entry)};\nconst { Ring, constants } = uring;\n${body}\n`;
  return new Promise((resolve, reject) => {
    const cp = spawn(process.execPath, [...(opts.args ?? []), '--input-type=module', '-e', script], {
      env: process.env, // URING_BACKEND passes through: the child runs on the same backend
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    cp.stdout.on('data', (d: Buffer) => (stdout += d));
    cp.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      cp.kill('SIGKILL');
    }, LIMIT_MS);
    cp.on('error', reject);
    cp.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function exitedCleanly(o: Outcome): void {
  assert.equal(o.timedOut, false, `the child did not exit on its own within ${LIMIT_MS} ms\nstdout: ${o.stdout}\nstderr: ${o.stderr}`);
  assert.equal(o.signal, null, `killed by ${o.signal}\nstderr: ${o.stderr}`);
  assert.equal(o.code, 0, `exit code ${o.code}\nstderr: ${o.stderr}`);
  assert.equal(o.stderr, '', 'nothing on stderr (no crash, no warning)');
}

describe('lifecycle', { skip: backendUnavailable() }, () => {
  test('a process with an idle ring (opened, used, never closed) exits on its own', { timeout: 30_000 }, async () => {
    const o = await child(`
      const ring = new Ring({ entries: 8 });
      console.log('nop', await ring.nop());
      console.log('timeout', await ring.timeout(1));
      await ring.read(1 << 30, new Uint8Array(4)).catch((e) => console.log('read', e.code));
      globalThis.keep = ring; // reachable, idle, never closed
      console.log('idle');
    `);
    exitedCleanly(o);
    assert.equal(o.stdout, 'nop 0\ntimeout 0\nread EBADF\nidle\n');
  });

  test('a pending timeout keeps the process alive until it fires', { timeout: 30_000 }, async () => {
    // Nothing else holds the loop: were the ring's watch unref'd while the
    // timeout is in flight, the child would exit before printing "fired".
    const o = await child(`
      const ring = new Ring({ entries: 8 });
      ring.timeout(300).then((v) => console.log('fired', v, ring.stats().inflight));
      console.log('waiting');
    `);
    exitedCleanly(o);
    assert.equal(o.stdout, 'waiting\nfired 0 0\n');
  });

  test('a pending read on a pipe keeps the process alive until data arrives', { timeout: 30_000 }, async (t) => {
    const dir = tempDir(t);
    const fifo = path.join(dir, 'fifo');
    const o = await child(`
      import('node:child_process').then(async ({ execFileSync }) => {
        const fs = await import('node:fs');
        execFileSync('mkfifo', [${JSON.stringify(fifo)}]);
        const fd = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDWR);
        const ring = new Ring({ entries: 8 });
        const buf = new Uint8Array(5);
        ring.read(fd, buf).then((n) => console.log('read', n, Buffer.from(buf).toString()));
        // The only other thing in the loop is an unref'd timer that feeds the pipe.
        setTimeout(() => fs.writeSync(fd, 'hello'), 300).unref();
        console.log('waiting');
      });
    `);
    exitedCleanly(o);
    assert.equal(o.stdout, 'waiting\nread 5 hello\n');
  });

  test('process.exit() with a read in flight on a pipe exits cleanly', { timeout: 30_000 }, async (t) => {
    const dir = tempDir(t);
    const fifo = path.join(dir, 'fifo');
    const o = await child(`
      const fs = await import('node:fs');
      const { execFileSync } = await import('node:child_process');
      execFileSync('mkfifo', [${JSON.stringify(fifo)}]);
      const fd = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDWR);
      const ring = new Ring({ entries: 8 });
      ring.read(fd, new Uint8Array(16)).then(() => console.log('must not complete'));
      ring.timeout(60_000).then(() => console.log('must not fire'));
      setImmediate(() => {
        console.log('in flight', ring.stats().inflight);
        process.exit(0);
      });
    `);
    exitedCleanly(o);
    assert.equal(o.stdout, 'in flight 2\n');
  });

  test('closing a ring with ops in flight lets the process exit', { timeout: 30_000 }, async () => {
    const o = await child(`
      const ring = new Ring({ entries: 8 });
      const t = ring.timeout(600_000).catch((e) => console.log('timeout', e.code));
      await new Promise((r) => setImmediate(r));
      await ring.close();
      await t;
      console.log('closed');
    `);
    exitedCleanly(o);
    assert.equal(o.stdout, 'timeout ERR_URING_CLOSED\nclosed\n');
  });

  test('rings dropped without close() are collected without crashing or leaking fds', { timeout: 30_000 }, async () => {
    const o = await child(
      `
      const fs = await import('node:fs');
      const count = () => fs.readdirSync('/proc/self/fd').length;
      const tick = () => new Promise((r) => setImmediate(r));
      const make = async () => {
        const ring = new Ring({ entries: 8 });
        await ring.nop();
      };
      await make(); // warm-up: loads the addon, opens what stays open
      for (let i = 0; i < 3; i++) { gc(); await tick(); }
      const before = count();
      for (let i = 0; i < 50; i++) await make();
      for (let i = 0; i < 5; i++) { gc(); await tick(); await new Promise((r) => setTimeout(r, 10)); }
      console.log('fds grew by', count() - before);
    `,
      { args: ['--expose-gc'] },
    );
    exitedCleanly(o);
    const m = /^fds grew by (-?\d+)\n$/.exec(o.stdout);
    assert.ok(m, o.stdout);
    // A finalizer may lag by a ring or two; 50 leaked rings would be 100 fds.
    // (Each ring holds two: the io_uring fd and its wake-up eventfd.)
    assert.ok(Number(m[1]) <= 4, `fds grew by ${m[1]} after dropping 50 rings`);
  });

  test('views of a collected ring\'s memory stay valid (the mapping outlives every view)', { timeout: 30_000 }, async (t) => {
    if (process.env.URING_BACKEND === 'worker') {
      t.skip('kernel backend only: checks the mmap lifetime');
      return;
    }
    const o = await child(
      `
      let sq, cq;
      await (async () => {
        const ring = new Ring({ entries: 8 });
        await ring.nop();
        sq = ring.backend.sq; // only the queues survive, not the ring
        cq = ring.backend.cq;
      })();
      const other = new Ring({ entries: 8 });
      await other.nop();
      await other.close();
      for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log('space', sq.space(), 'tail', cq.tail());
    `,
      { args: ['--expose-gc'] },
    );
    exitedCleanly(o);
    assert.equal(o.stdout, 'space 8 tail 1\n');
  });

  test('a dropped ring with ops in flight is not collected before they complete', { timeout: 30_000 }, async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, 'x'.repeat(4096));
    const o = await child(
      `
      const fs = await import('node:fs');
      const fd = fs.openSync(${JSON.stringify(file)}, 'r');
      const results = [];
      (() => {
        // Nothing but the promises survives this function.
        const ring = new Ring({ entries: 8 });
        for (let i = 0; i < 4; i++) {
          const buf = new Uint8Array(4096);
          ring.timeout(100 + 20 * i).then(() => ring.read(fd, buf, 0)).then((n) => results.push(n + ':' + Buffer.from(buf).toString().slice(0, 3)));
        }
      })();
      // Another ring's op, so no incidental reference (e.g. the executor's
      // last-captured resolver) keeps the first ring reachable.
      const other = new Ring({ entries: 8 });
      await other.nop();
      await other.close();
      for (let i = 0; i < 10; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
      await new Promise((r) => setTimeout(r, 300));
      console.log(results.join(' '));
    `,
      { args: ['--expose-gc'] },
    );
    exitedCleanly(o);
    assert.equal(o.stdout, '4096:xxx 4096:xxx 4096:xxx 4096:xxx\n');
  });
});

test('the child scripts can see the built package', () => {
  assert.ok(fs.existsSync(entry), entry);
});
