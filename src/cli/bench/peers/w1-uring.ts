// W1 peer: uring's drop-in FileHandle.read (the fs.promises script, import swapped).
import { importUring } from '../common.js';
import type { PeerModule } from '../types.js';
import { w1Promises } from './w1-promises.js';
import { uringVariants } from './variants.js';

export const peer: PeerModule = {
  workload: 'W1',
  variants: uringVariants('FileHandle.read', 10),
  async run(p) {
    const u = await importUring(['open']);
    if ('skipped' in u) return u;
    return w1Promises(u.mod.open, p);
  },
};
