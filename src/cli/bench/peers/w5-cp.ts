// W5 peer: the `cp` command (coreutils), timed from the child around spawnSync.
import { spawnSync } from 'node:child_process';
import type { PeerModule } from '../types.js';
import { w5Copy } from './w5-copyfile.js';

export const peer: PeerModule = {
  workload: 'W5',
  variants: [{ impl: 'cp', order: 90, available: () => (spawnSync('cp', ['--version']).error ? 'no cp on PATH' : null) }],
  run: (p) =>
    w5Copy(async (src, dst) => {
      const r = spawnSync('cp', [src, dst], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.error) throw r.error;
      if (r.status !== 0) throw new Error(`cp exited ${r.status}: ${String(r.stderr).trim()}`);
    }, p),
};
