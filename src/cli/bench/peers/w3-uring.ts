// W3 peer: uring `ring.nop()`, one promise per op, `depth` ops in flight.
import { Deadline, importUring, now, result, since } from '../common.js';
import type { PeerModule } from '../types.js';

export const peer: PeerModule = {
  workload: 'W3',
  variants: [
    { impl: 'uring ring.nop() (kernel)', order: 10, env: { URING_BACKEND: 'kernel' } },
    { impl: 'uring ring.nop() (worker)', order: 11, env: { URING_BACKEND: 'worker' } },
  ],
  async run(p) {
    const u = await importUring(['Ring']);
    if ('skipped' in u) return u;
    const ring = new u.mod.Ring({ entries: 256 });
    const dl = new Deadline(p.durationMs);
    let count = 0;
    let bad = 0;
    const t0 = now();
    try {
      await Promise.all(
        Array.from({ length: p.depth }, async () => {
          while (!dl.tick()) {
            if ((await ring.nop()) !== 0) bad++;
            count++;
          }
        }),
      );
    } finally {
      ring.close();
    }
    return result(count, since(t0), bad === 0, `${count} NOPs, ${bad} with res != 0`);
  },
};
