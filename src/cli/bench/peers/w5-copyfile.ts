// W5 peer: fs.promises.copyFile of the whole source; w5-uring.ts swaps in uring's.
import * as fs from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { BLOCK, W1_SEED, now, result, since, stamp, u32 } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';

/** Checks the copy's size and the stamps of 64 blocks spread over it, then removes it. */
export function verifyCopy(p: Params): { ok: boolean; detail: string } {
  try {
    const size = fs.statSync(p.dst).size;
    const fd = fs.openSync(p.dst, 'r');
    const buf = Buffer.alloc(BLOCK);
    const blocks = Math.floor(p.size / BLOCK);
    let bad = 0;
    for (let k = 0; k < 64; k++) {
      const blk = k === 63 ? blocks - 1 : Math.floor((k * blocks) / 63);
      const n = fs.readSync(fd, buf, 0, BLOCK, blk * BLOCK);
      if (n !== BLOCK || u32(buf) !== stamp(blk, W1_SEED)) bad++;
    }
    fs.closeSync(fd);
    return { ok: size === p.size && bad === 0, detail: `${size}/${p.size} bytes, ${bad} of 64 sampled blocks wrong` };
  } catch (e) {
    return { ok: false, detail: `error: ${(e as Error).message}` };
  } finally {
    fs.rmSync(p.dst, { force: true });
  }
}

export async function w5Copy(copyFn: (src: string, dst: string) => Promise<unknown>, p: Params): Promise<Outcome> {
  fs.rmSync(p.dst, { force: true });
  const t0 = now();
  await copyFn(p.file, p.dst);
  const ns = since(t0);
  const c = verifyCopy(p);
  return result(p.size, ns, c.ok, c.detail);
}

export const peer: PeerModule = { workload: 'W5', variants: [{ impl: 'fs.copyFile', order: 0 }], run: (p) => w5Copy(copyFile, p) };
