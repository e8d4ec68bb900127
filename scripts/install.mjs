// npm install hook: build the addon (or use a prebuild). On Linux a failed
// build is an error; elsewhere io_uring does not exist, so uring runs on the
// worker backend and a failed build only warns.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const bin = require.resolve('node-gyp-build/bin.js');
const r = spawnSync(process.execPath, [bin], { stdio: 'inherit' });
if (r.status !== 0) {
  if (process.platform === 'linux') process.exit(r.status ?? 1);
  console.warn('uring: native addon not built; the worker backend will be used');
}
