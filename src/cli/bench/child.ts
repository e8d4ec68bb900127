// Child entry: `node|bun child.js <peer module URL> <params JSON>`.
// Runs the peer and prints exactly one JSON line (an Outcome) on stdout.
import type { Outcome, Params, PeerModule } from './types.js';

async function main(): Promise<Outcome> {
  const [modUrl, json] = process.argv.slice(2);
  if (!modUrl || !json) throw new Error('usage: child.js <peer module URL> <params JSON>');
  const p = JSON.parse(json) as Params;
  const mod = (await import(modUrl)) as { peer?: PeerModule };
  if (!mod.peer?.run) throw new Error(`${modUrl} has no peer.run`);
  if (p.workload === 'W2') await warmUp(mod.peer, p);
  return mod.peer.run(p);
}

/**
 * W2 is a fixed count, not a duration: 20,000 files take the fastest peers
 * about 0.1 s. A JIT-compiled reader (uring's, or node's own fs.promises)
 * is still warming up over much of a first pass in a fresh process: uring
 * reads its first 2,000 files at about a tenth of its steady rate. So every
 * peer, whatever its runtime, first reads all the files once untimed (like
 * hyperfine's --warmup), and the figure is the steady state. (The README
 * gives first-pass figures too.)
 */
async function warmUp(peer: PeerModule, p: Params): Promise<void> {
  await peer.run!({ ...p, expectSum: 0 });
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
  },
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`peer failed: ${e?.stack ?? String(err)}\n`);
    process.stdout.write(JSON.stringify({ count: 0, ns: 0, check: { ok: false, detail: `error: ${e?.message ?? String(err)}` } }) + '\n', () => process.exit(1));
  },
);
