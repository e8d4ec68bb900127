// Child-process scenarios for the pool tests, run as
//   node dist/test/pool-child.js <scenario>
// and reporting one JSON line on stdout. Used where the parent cannot set
// the condition in-process: RLIMIT_MEMLOCK (and CAP_IPC_LOCK) lowered
// before startup, or lease copy mode (URING_LEASE_MODE=copy at load).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ring } from '../src/index.js';
import { fixedChunk, LEASE_MODE } from '../src/buffers/lease.js';

function report(x: unknown): void {
  process.stdout.write(JSON.stringify(x) + '\n');
}

function openRing(opts: ConstructorParameters<typeof Ring>[0] = {}): Ring | null {
  try {
    return new Ring(opts);
  } catch (e) {
    report({ skip: `no ring on this backend: ${(e as Error).message}` });
    return null;
  }
}

function tempFile(bytes: Uint8Array): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-pool-child-'));
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, bytes);
  return { file, dir };
}

async function copyLease(): Promise<void> {
  const ring = openRing();
  if (!ring) return;
  const data = Buffer.alloc(8192);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const { file, dir } = tempFile(data);
  const fd = fs.openSync(file, 'r+');
  try {
    const l = ring.pool.alloc(8192, { align: 4096 });
    const n = await ring.read_fixed(fd, l, 8192, 0);
    const read = n === 8192 && l.bytes.equals(data) ? 'ok' : `bad (${n})`;
    l.bytes.fill(0x42);
    // User writes land in the private copy, not in pool memory, until a fixed write.
    const chunkUntouchedByUserWrites = fixedChunk(l).view()[0] === data[0];
    await ring.write_fixed(fd, l, 100, 1000);
    const back = fs.readFileSync(file);
    const write = back.subarray(1000, 1100).every((b) => b === 0x42) && back[999] === data[999] ? 'ok' : 'bad';
    const view = l.bytes;
    l.release();
    report({ mode: LEASE_MODE, read, write, viewAfterRelease: view.length, chunkUntouchedByUserWrites, inUse: ring.pool.stats().inUse });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
    await ring.close();
  }
}

async function memlock(): Promise<void> {
  const warnings: { code?: string; message: string }[] = [];
  process.on('warning', (w) => warnings.push({ code: (w as Error & { code?: string }).code, message: w.message }));
  const data = Buffer.alloc(64 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
  const { file, dir } = tempFile(data);
  const fd = fs.openSync(file, 'r');
  const out: Record<string, unknown> = {};
  try {
    // Explicit registration: a clear error, thrown.
    const a = openRing({ pool: { regionSize: 1 << 20 } });
    if (!a) return;
    a.pool.chunk(16); // a region to register
    try {
      out.registerPool = a.registerPool();
    } catch (e) {
      const err = e as Error & { code?: string; errno?: number; syscall?: string };
      out.error = { code: err.code, errno: err.errno, syscall: err.syscall, message: err.message };
    }
    // ... and fixed ops still work, on plain reads of the same memory.
    const c = a.pool.chunk(4096, 4096);
    out.readAfterError = (await a.read_fixed(fd, c, 4096, 4096)) === 4096 && Buffer.from(c.view()).equals(data.subarray(4096, 8192));
    a.pool.free(c);
    await a.close();

    // Lazy registration: a warning, once, and the fallback.
    const b = openRing({ pool: { regionSize: 1 << 20 } });
    if (!b) return;
    const leases = Array.from({ length: 16 }, () => b.pool.alloc(4096, { align: 4096 }));
    const res = await Promise.all(leases.map((l, i) => b.read_fixed(fd, l, 4096, i * 4096)));
    out.lazyReads = res.every((n, i) => n === 4096 && leases[i]!.bytes.equals(data.subarray(i * 4096, (i + 1) * 4096)));
    for (const l of leases) l.release();
    const s = b.pool.stats();
    out.stats = { fixed: s.fixed, registeredBytes: s.registeredBytes, hasError: s.fixedError !== null, inUse: s.inUse };
    await b.close();
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    out.warnings = warnings.filter((w) => w.code === 'ERR_URING_MEMLOCK').length;
    out.backend = b.backend.name;
    report(out);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const scenarios: Record<string, () => Promise<void>> = { 'copy-lease': copyLease, memlock };
const which = process.argv[2] ?? '';
const run = scenarios[which];
if (!run) {
  report({ skip: `unknown scenario ${which}` });
  process.exitCode = 2;
} else {
  run().catch((e: Error) => {
    process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  });
}
