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
 * about 0.1 s, which a JIT spends mostly warming up. So every peer, whatever
 * its runtime, first reads the first fifth of the files untimed (like
 * hyperfine's --warmup), and the figure is the steady state.
 */
async function warmUp(peer: PeerModule, p: Params): Promise<void> {
  const dirs = Math.max(1, Math.floor(p.dirs / 5));
  await peer.run!({ ...p, dirs, expectSum: 0 });
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
