// W4 peer: postMessage echo to a worker thread, `depth` messages in flight.
// The uring peer is w4-uring.ts. Both warm up untimed first (W4_WARMUP_MS).
import { Worker } from 'node:worker_threads';
import { Deadline, W4_WARMUP_MS, now, result, since } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';

const ECHO = `require('node:worker_threads').parentPort.on('message', function (m) { this.postMessage(m); });`;

/** `depth` lanes echo until `ms` is up; resolves with the round trips, the wrong ones and the time taken. */
function round(w: Worker, depth: number, ms: number): Promise<{ count: number; bad: number; ns: number }> {
  const dl = new Deadline(ms);
  const seq = new Array<number>(depth).fill(0);
  let count = 0;
  let bad = 0;
  let live = depth;
  const t0 = now();
  return new Promise((resolve, reject) => {
    const onMessage = (m: number): void => {
      const lane = m % depth;
      if (m !== seq[lane]! * depth + lane) bad++;
      count++;
      if (dl.tick()) {
        if (--live === 0) {
          w.off('message', onMessage);
          w.off('error', reject);
          resolve({ count, bad, ns: since(t0) });
        }
        return;
      }
      seq[lane]!++;
      w.postMessage(seq[lane]! * depth + lane);
    };
    w.on('error', reject);
    w.on('message', onMessage);
    for (let lane = 0; lane < depth; lane++) w.postMessage(lane);
  });
}

async function run(p: Params): Promise<Outcome> {
  const w = new Worker(ECHO, { eval: true });
  await new Promise<void>((res, rej) => {
    w.once('online', res);
    w.once('error', rej);
  });
  try {
    await round(w, p.depth, Math.min(W4_WARMUP_MS, p.durationMs / 2));
    const r = await round(w, p.depth, p.durationMs);
    return result(r.count, r.ns, r.bad === 0, `${r.count} round trips, ${r.bad} out of order or wrong`);
  } finally {
    await w.terminate();
  }
}

export const peer: PeerModule = { workload: 'W4', variants: [{ impl: 'postMessage echo', order: 0 }], run };
