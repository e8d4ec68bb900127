// The public contract of a user-defined scheme handler, and the adapter
// that runs one inside a producer. Kept free of node:worker_threads and of
// the native addon so a handler module can import its types cheaply.

import type { OpHandler, Producer } from '../backends/worker/producer.js';
import { PENDING } from '../backends/worker/layout.js';

/** The SQE a handler serves, decoded. 64-bit fields are numbers (< 2^53). */
export interface SchemeRequest {
  readonly opcode: number;
  /** IOSQE_* flags (links are the ring's business; they are here for information). */
  readonly flags: number;
  readonly ioprio: number;
  readonly fd: number;
  readonly off: number;
  readonly addr: number;
  readonly len: number;
  /** The op-specific u32 (rw_flags, open_flags, ... in the kernel's ops). */
  readonly opFlags: number;
  readonly bufIndex: number;
  readonly personality: number;
  readonly fileIndex: number;
  readonly addr3: number;
}

export interface SchemeContext {
  /** Pool memory [addr, addr + len) as a zero-copy view (throws EFAULT outside the pool). */
  bytes(addr: number, len: number): Uint8Array;
  /** The NUL-terminated UTF-8 string at `addr` in pool memory. */
  string(addr: number): string;
  /** Aborted when the request is cancelled (ASYNC_CANCEL, a link timeout, the ring closing). */
  readonly signal: AbortSignal;
  /** Index of the worker serving the request; -1 on the main thread. */
  readonly worker: number;
}

/**
 * Returns the CQE's res: a result >= 0, or -errno. A result wider than 32
 * bits (a safe integer) travels as an extended CQE pair. Throwing an error
 * with a numeric `errno` (node's errors have one) or an errno `code` gives
 * that -errno; anything else gives -EIO.
 */
export type SchemeHandler = (req: SchemeRequest, ctx: SchemeContext) => number | PromiseLike<number>;

/** A handler module's default export: opcode (128..255) → handler. */
export type SchemeHandlers = { readonly [opcode: number]: SchemeHandler };

/** First opcode a scheme may define; lower ones belong to the io_uring ABI. */
export const SCHEME_OPCODE_MIN = 128;

const EINVAL = 22;

class Context implements SchemeContext {
  private ac: AbortController | null = null;
  constructor(private readonly p: Producer, readonly worker: number) {}

  bytes(addr: number, len: number): Uint8Array {
    return this.p.mem(addr, len);
  }

  string(addr: number): string {
    return this.p.cstr(addr).toString('utf8');
  }

  get signal(): AbortSignal {
    // Created on demand: most handlers never look.
    return (this.ac ??= new AbortController()).signal;
  }

  end(cancelled: boolean): void {
    if (cancelled) this.ac?.abort();
  }
}

function checked(r: unknown): number {
  return typeof r === 'number' && Number.isSafeInteger(r) && r !== PENDING ? r : -EINVAL;
}

/** Wraps a public handler as a producer op. */
export function adaptHandler(fn: SchemeHandler, worker: number): OpHandler {
  return (p, at, slot) => {
    const s = p.sqes;
    const w0 = s[at]!;
    const req: SchemeRequest = {
      opcode: w0 & 0xff,
      flags: (w0 >>> 8) & 0xff,
      ioprio: w0 >>> 16,
      fd: s[at + 1]! | 0,
      off: p.u64(at + 2),
      addr: p.u64(at + 4),
      len: s[at + 6]!,
      opFlags: s[at + 7]!,
      bufIndex: s[at + 10]! & 0xffff,
      personality: s[at + 10]! >>> 16,
      fileIndex: s[at + 11]!,
      addr3: p.u64(at + 12),
    };
    const ctx = new Context(p, worker);
    const r = fn(req, ctx);
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<number>).then === 'function') {
      p.parkAsync(slot, (r as PromiseLike<number>).then(checked), (cancelled) => ctx.end(cancelled));
      return PENDING;
    }
    return checked(r);
  };
}

/** Validates a handler module's exports; returns [opcode, handler] pairs. */
export function handlerEntries(mod: Record<string, unknown>, where: string): Array<[number, SchemeHandler]> {
  const table = (mod.default ?? mod.handlers) as Record<string, unknown> | undefined;
  if (table === null || typeof table !== 'object') throw new TypeError(`${where}: the default export must be an object mapping opcodes to handlers`);
  const out: Array<[number, SchemeHandler]> = [];
  for (const [k, fn] of Object.entries(table)) {
    const op = Number(k);
    if (!Number.isInteger(op) || op < SCHEME_OPCODE_MIN || op > 255) throw new RangeError(`${where}: opcode ${k} is outside ${SCHEME_OPCODE_MIN}..255`);
    if (typeof fn !== 'function') throw new TypeError(`${where}: the handler for opcode ${k} is not a function`);
    out.push([op, fn as SchemeHandler]);
  }
  return out;
}
