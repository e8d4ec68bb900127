// W4 peer: uring scheme round trips, `depth` in flight. A one-opcode scheme
// (128 echoes the SQE's len) served by one worker thread over a userspace
// ring; each op is one promise, each lane checks it gets its own value back.
// Warms up untimed first, as the postMessage peer does (W4_WARMUP_MS).
import { Deadline, W4_WARMUP_MS, importUring, now, result, since } from '../common.js';
import type { PeerModule } from '../types.js';

/** A data: URL, so the peer needs no file of its own for the worker to load. */
const ECHO_SCHEME = 'data:text/javascript,export default { 128: (req) => req.len }';

interface EchoScheme {
  call(opcode: number, sqe: { len: number }): Promise<number>;
  close(): Promise<void>;
}

async function round(s: EchoScheme, depth: number, ms: number): Promise<{ count: number; bad: number; ns: number }> {
  const dl = new Deadline(ms);
  let count = 0;
  let bad = 0;
  const t0 = now();
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
  return { count, bad, ns: since(t0) };
}

export const peer: PeerModule = {
  workload: 'W4',
  variants: [{ impl: 'uring scheme echo', order: 10 }],
  async run(p) {
    const u = await importUring(['openScheme']);
    if ('skipped' in u) return u;
    const s = (await u.mod.openScheme({ module: ECHO_SCHEME, workers: 1, entries: 256 })) as EchoScheme;
    try {
      await round(s, p.depth, Math.min(W4_WARMUP_MS, p.durationMs / 2));
      const r = await round(s, p.depth, p.durationMs);
      return result(r.count, r.ns, r.bad === 0, `${r.count} round trips, ${r.bad} wrong`);
    } finally {
      await s.close();
    }
  },
};
