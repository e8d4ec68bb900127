// W5 peer: uring's copyFile. io_uring has no copy_file_range opcode, so
// uring.copyFile *is* node's fs.copyFile (the kernel's in-place copy, which
// a read/write loop through the ring cannot beat). Timing it again would
// print a second fs.copyFile row under uring's name, and its ratio would be
// noise passed off as a result: the rows are listed as skipped, with why.
import type { PeerModule } from '../types.js';
import { uringVariants } from './variants.js';

const WHY = 'uring.copyFile is node:fs.copyFile (io_uring has no copy_file_range op): see the fs.copyFile row';

export const peer: PeerModule = {
  workload: 'W5',
  variants: uringVariants('copyFile', 10).map((v) => ({ ...v, available: () => WHY })),
  // Never runs (every variant is unavailable); the harness asks for a run.
  run: async () => ({ skipped: WHY }),
};
