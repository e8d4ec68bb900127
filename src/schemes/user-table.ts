// A user's handler module, served by worker threads: the worker transport
// loads scheme modules that export opTable(), and knows nothing of the
// public handler API. This module is that bridge. Each scheme gets its own
// instance of it, by URL: `user-table.js?module=<the user's module URL>`.

import type { OpTable } from '../backends/worker/producer.js';
import type { SchemeTable } from '../backends/worker.js';
import { adaptHandler, handlerEntries } from './scheme-types.js';

/** Loads the user's module named in our URL and adapts its handlers for worker `worker`. */
export async function opTable(worker: number): Promise<OpTable> {
  const url = new URL(import.meta.url).searchParams.get('module');
  if (url === null) throw new TypeError(`${import.meta.url}: no ?module= to serve`);
  const entries = handlerEntries((await import(url)) as Record<string, unknown>, url);
  return {
    ops: entries.map(([op, fn]) => [op, adaptHandler(fn, worker)] as const),
    advertised: entries.map(([op]) => op),
  };
}

/** The table for a user's handler module at `moduleUrl` (its opcodes are known once a worker loads it). */
export function userTable(moduleUrl: string): SchemeTable {
  const u = new URL(import.meta.url);
  u.searchParams.set('module', moduleUrl);
  return { url: u.href, opcodes: [] };
}
