// W5 peer: fs.copyFile with a callback (libuv's threadpool, no promise), and
// again with UV_USE_IO_URING=1 (libuv's copyfile has no io_uring path, so the
// two should agree: the row shows the switch changes nothing here).
import * as fs from 'node:fs';
import type { PeerModule } from '../types.js';
import { uvVariant } from './variants.js';
import { w5Copy } from './w5-copyfile.js';

function copyFileCb(src: string, dst: string): Promise<void> {
  return new Promise((resolve, reject) => fs.copyFile(src, dst, (err) => (err ? reject(err) : resolve())));
}

export const peer: PeerModule = {
  workload: 'W5',
  variants: [{ impl: 'fs.copyFile callback', order: 2 }, uvVariant('fs.copyFile callback', 3)],
  run: (p) => w5Copy(copyFileCb, p),
};
