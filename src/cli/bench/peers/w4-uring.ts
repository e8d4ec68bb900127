// W4 peer: uring scheme round trips, `depth` in flight. A one-opcode scheme
// (128 echoes the SQE's len) served by one worker thread over a userspace
// ring; each op is one promise, each lane checks it gets its own value back.
import { Deadline, importUring, now, result, since } from '../common.js';
import type { PeerModule } from '../types.js';

/** A data: URL, so the peer needs no file of its own for the worker to load. */
const ECHO_SCHEME = 'data:text/javascript,export default { 128: (req) => req.len }';

interface EchoScheme {
  call(opcode: number, sqe: { len: number }): Promise<number>;
  close(): Promise<void>;
}

export const peer: PeerModule = {
  workload: 'W4',
  variants: [{ impl: 'uring scheme echo', order: 10 }],
  async run(p) {
    const u = await importUring(['openScheme']);
    if ('skipped' in u) return u;
    const s = (await u.mod.openScheme({ module: ECHO_SCHEME, workers: 1, entries: 256 })) as EchoScheme;
    const dl = new Deadline(p.durationMs);
    const depth = p.depth;
    let count = 0;
    let bad = 0;
    const t0 = now();
    try {
      await Promise.all(
        Array.from({ length: depth }, async (_, lane) => {
          const sqe = { len: 0 };
          for (let k = 0; !dl.tick(); k++) {
            const v = (k * depth + lane) & 0x7fffffff;
            sqe.len = v;
            if ((await s.call(128, sqe)) !== v) bad++;
            count++;
          }
        }),
      );
    } finally {
      await s.close();
    }
    return result(count, since(t0), bad === 0, `${count} round trips, ${bad} wrong`);
  },
};
