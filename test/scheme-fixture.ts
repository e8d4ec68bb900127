// Handlers for the scheme tests (loaded by scheme workers; not a test file).
import type { SchemeHandlers } from '../src/index.js';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<number>((resolve) => {
    const t = setTimeout(() => resolve(0), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve(-125); // ECANCELED
    });
  });

export default {
  /** Echo: the result is the SQE's len. */
  128: (req) => req.len,
  /** Reverses pool memory [addr, addr + len) in place, zero-copy. */
  129: (req, ctx) => {
    ctx.bytes(req.addr, req.len).reverse();
    return req.len;
  },
  /** Async: waits `off` ms (cancellable), then answers len. */
  130: async (req, ctx) => {
    const r = await sleep(req.off, ctx.signal);
    return r < 0 ? r : req.len;
  },
  /** A result wider than 32 bits: off * 2^32 + len (sign from opFlags). */
  131: (req) => (req.opFlags ? -1 : 1) * (req.off * 2 ** 32 + req.len),
  /** Fails like node:fs does (err.errno). */
  132: () => {
    throw Object.assign(new Error('no such thing'), { errno: -2, code: 'ENOENT' });
  },
  /** Kills the worker running it. */
  133: () => process.exit(7),
  /** Blocks the worker for `off` ms, then answers len. */
  134: (req) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, req.off);
    return req.len;
  },
  /** A plain exception: -EIO. */
  135: () => {
    throw new Error('boom');
  },
  /** The string at addr, measured: its UTF-8 length. */
  136: (req, ctx) => Buffer.byteLength(ctx.string(req.addr)),
  /** Which worker runs it. */
  137: (_req, ctx) => ctx.worker,
} satisfies SchemeHandlers;
