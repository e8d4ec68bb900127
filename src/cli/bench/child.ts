// Child entry: `node|bun child.js <peer module URL> <params JSON>`.
// Runs the peer and prints exactly one JSON line (an Outcome) on stdout.
import type { Outcome, Params, PeerModule } from './types.js';

async function main(): Promise<Outcome> {
  const [modUrl, json] = process.argv.slice(2);
  if (!modUrl || !json) throw new Error('usage: child.js <peer module URL> <params JSON>');
  const p = JSON.parse(json) as Params;
  const mod = (await import(modUrl)) as { peer?: PeerModule };
  if (!mod.peer?.run) throw new Error(`${modUrl} has no peer.run`);
  return mod.peer.run(p);
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
