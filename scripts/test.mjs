// Runs the whole suite with node's built-in test runner, once per backend:
// the kernel backend (io_uring) and the worker backend (SharedArrayBuffer
// rings served by worker threads). URING_BACKEND=kernel|worker runs one.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'dist', 'test');
const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f));
const only = process.env.URING_BACKEND;
const backends = only ? [only] : ['kernel', 'worker'];
let failed = false;
for (const backend of backends) {
  console.log(`\n# backend: ${backend}`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: { ...process.env, URING_BACKEND: backend },
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
