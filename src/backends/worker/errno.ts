// Thrown values as -errno, for CQE results.

import { constants } from 'node:os';

const errnos = constants.errno as Record<string, number>;

/** node's err.errno (already negative), an errno code name, else `fallback`. */
export function errnoOf(e: unknown, fallback: number): number {
  if (e !== null && typeof e === 'object') {
    const n = (e as { errno?: unknown }).errno;
    if (typeof n === 'number' && Number.isInteger(n) && n !== 0) return n > 0 ? -n : n;
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && typeof errnos[c] === 'number') return -errnos[c]!;
  }
  return fallback;
}
