// The kernel attachment: a Linux io_uring mapped into JavaScript.
//
// Setup tries the fastest flag set first and steps down on EINVAL, so one
// binary runs on every kernel that has io_uring at all. Completions wake us
// through a uv_poll on the ring fd inside libuv's own loop: no thread.

import * as abi from '../abi/abi.js';
import { SubmissionQueue, CompletionQueue } from '../queues/queue.js';
import { assert } from '../abi/assert.js';
import { native, nativeError, type Native, type SetupResult } from '../native.js';
import { errnoError, uringError } from '../errors.js';
import type { Backend } from '../queues/backend.js';

export interface KernelOptions {
  /** SQ entries, 1..32768, rounded up to a power of two by the kernel. Default 256. */
  entries?: number;
  /** CQ entries (IORING_SETUP_CQSIZE). Default: twice `entries`. */
  cqEntries?: number;
  /** Opt in to a kernel SQ polling thread (IORING_SETUP_SQPOLL). */
  sqpoll?: boolean | { idleMs?: number; cpu?: number };
}

/** Ties a mapped region's ArrayBuffer to the native handle that unmaps it. */
const kHandle = Symbol('uring.mapping');
const IORING_MAX_ENTRIES = 32768;
const IORING_MAX_CQ_ENTRIES = 2 * IORING_MAX_ENTRIES;
const EINVAL = 22;

/** Flag sets to try, fastest first. Each step drops what older kernels reject. */
const LADDER = [
  abi.IORING_SETUP_SINGLE_ISSUER | abi.IORING_SETUP_DEFER_TASKRUN | abi.IORING_SETUP_TASKRUN_FLAG | abi.IORING_SETUP_NO_SQARRAY | abi.IORING_SETUP_SUBMIT_ALL,
  abi.IORING_SETUP_SINGLE_ISSUER | abi.IORING_SETUP_DEFER_TASKRUN | abi.IORING_SETUP_TASKRUN_FLAG | abi.IORING_SETUP_SUBMIT_ALL,
  abi.IORING_SETUP_COOP_TASKRUN | abi.IORING_SETUP_TASKRUN_FLAG | abi.IORING_SETUP_SUBMIT_ALL,
  abi.IORING_SETUP_SUBMIT_ALL,
  0,
];
const SQPOLL_LADDER = [
  abi.IORING_SETUP_SQPOLL | abi.IORING_SETUP_SINGLE_ISSUER | abi.IORING_SETUP_NO_SQARRAY | abi.IORING_SETUP_SUBMIT_ALL,
  abi.IORING_SETUP_SQPOLL | abi.IORING_SETUP_SUBMIT_ALL,
  abi.IORING_SETUP_SQPOLL,
];

function requireNative(): Native {
  if (!native) throw uringError('ERR_URING_UNAVAILABLE', `io_uring is unavailable: ${nativeError}`);
  return native;
}

function validateEntries(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    const err = new RangeError(`The value of "${name}" is out of range. It must be an integer >= 1 and <= ${max}. Received ${v}`) as RangeError & { code: string };
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
}

export class KernelBackend implements Backend {
  readonly name = 'kernel' as const;
  readonly sq: SubmissionQueue;
  readonly cq: CompletionQueue;
  readonly features: number;
  readonly setupFlags: number;
  readonly fd: number;
  private readonly n: Native;
  private readonly mapped: SetupResult;
  private readonly probed: Uint8Array;
  private readonly wakeFlags: number;
  private watchHandle: object | null = null;
  private destroyed = false;

  static open(opts: KernelOptions = {}): KernelBackend {
    const n = requireNative();
    const entries = opts.entries ?? 256;
    validateEntries('entries', entries, IORING_MAX_ENTRIES);
    const cqEntries = opts.cqEntries ?? entries * 2;
    validateEntries('cqEntries', cqEntries, IORING_MAX_CQ_ENTRIES);
    if (cqEntries < entries) throw uringError('ERR_OUT_OF_RANGE', `cqEntries (${cqEntries}) must be >= entries (${entries})`);
    const ladder = opts.sqpoll ? SQPOLL_LADDER : LADDER;
    let last = 0;
    for (const flags of ladder) {
      const params = new Uint8Array(abi.PARAMS.size);
      const p = new DataView(params.buffer);
      p.setUint32(abi.PARAMS.flags, flags | abi.IORING_SETUP_CQSIZE, true);
      p.setUint32(abi.PARAMS.cq_entries, cqEntries, true);
      if (typeof opts.sqpoll === 'object') {
        p.setUint32(abi.PARAMS.sq_thread_idle, opts.sqpoll.idleMs ?? 1000, true);
        if (opts.sqpoll.cpu !== undefined) {
          p.setUint32(abi.PARAMS.flags, flags | abi.IORING_SETUP_CQSIZE | abi.IORING_SETUP_SQ_AFF, true);
          p.setUint32(abi.PARAMS.sq_thread_cpu, opts.sqpoll.cpu, true);
        }
      }
      const r = n.setup(entries, params);
      if (typeof r !== 'number') return new KernelBackend(n, r, p);
      last = r;
      if (r !== -EINVAL) break;
    }
    throw errnoError(last, 'io_uring_setup');
  }

  private constructor(n: Native, mapped: SetupResult, p: DataView) {
    this.n = n;
    this.mapped = mapped;
    // The native handle unmaps the ring when it is collected. Any view of the
    // mapped memory (the queues' typed arrays, or one a user kept) must keep
    // it alive, or reading the view after the ring was collected would
    // touch unmapped memory: each region's ArrayBuffer holds the handle.
    for (const ab of [mapped.rings, mapped.cq, mapped.sqes]) {
      Object.defineProperty(ab, kHandle, { value: mapped.handle });
    }
    this.fd = mapped.fd;
    this.features = p.getUint32(abi.PARAMS.features, true);
    this.setupFlags = p.getUint32(abi.PARAMS.flags, true);
    const noArray = (this.setupFlags & abi.IORING_SETUP_NO_SQARRAY) !== 0;
    const so = abi.PARAMS.sq_off;
    const co = abi.PARAMS.cq_off;
    const u = (o: number) => p.getUint32(o, true);
    this.sq = new SubmissionQueue(mapped.rings, {
      head: u(so.head), tail: u(so.tail), ring_mask: u(so.ring_mask), ring_entries: u(so.ring_entries),
      flags: u(so.flags), dropped: u(so.dropped), array: noArray ? -1 : u(so.array),
    }, mapped.sqes);
    this.cq = new CompletionQueue(mapped.cq, {
      head: u(co.head), tail: u(co.tail), ring_mask: u(co.ring_mask), ring_entries: u(co.ring_entries),
      overflow: u(co.overflow), cqes: u(co.cqes), flags: u(co.flags),
    });
    // With DEFER_TASKRUN completions only reach the CQ when we enter with
    // GETEVENTS, so every submit asks for them too: reaping for free.
    this.wakeFlags = this.setupFlags & abi.IORING_SETUP_DEFER_TASKRUN ? abi.IORING_ENTER_GETEVENTS : 0;
    this.probed = this.probe();
  }

  private probe(): Uint8Array {
    const ops = new Uint8Array(abi.IORING_OP_NAMES.length);
    const nr = 256;
    const buf = new Uint8Array(abi.PROBE.header + nr * abi.PROBE.op_size);
    const r = this.n.register(this.fd, abi.IORING_REGISTER_PROBE, buf, nr);
    if (r < 0) return ops; // pre-5.6: no probe, so assume only what we test
    const len = Math.min(buf[abi.PROBE.ops_len]!, nr);
    for (let i = 0; i < len && i < ops.length; i++) {
      const at = abi.PROBE.header + i * abi.PROBE.op_size;
      ops[i] = buf[at + abi.PROBE.op_flags]! & abi.IO_URING_OP_SUPPORTED ? 1 : 0;
    }
    return ops;
  }

  supports(opcode: number): boolean {
    return this.probed[opcode] === 1;
  }

  /** io_uring_register(2); returns the result or -errno. */
  register(opcode: number, arg: ArrayBufferView | null, nr: number): number {
    assert(!this.destroyed, 'register on a destroyed ring');
    return this.n.register(this.fd, opcode, arg, nr);
  }

  submit(count: number): number {
    this.mute();
    let flags = this.wakeFlags;
    if (this.setupFlags & abi.IORING_SETUP_SQPOLL) {
      // The kernel thread picks SQEs up by itself unless it fell asleep.
      if (!(this.sq.flags() & abi.IORING_SQ_NEED_WAKEUP)) return count;
      flags |= abi.IORING_ENTER_SQ_WAKEUP;
    }
    return this.n.enter(this.fd, this.sq.pending(), 0, flags);
  }

  awake(): void {
    this.mute();
  }

  reap(): void {
    this.mute();
    const sqFlags = this.sq.flags();
    const needEnter = this.wakeFlags !== 0 || (sqFlags & (abi.IORING_SQ_TASKRUN | abi.IORING_SQ_CQ_OVERFLOW)) !== 0;
    if (needEnter) this.n.enter(this.fd, 0, 0, abi.IORING_ENTER_GETEVENTS);
  }

  private muted = false;

  /** While we are awake, completions need no eventfd signal. */
  private mute(): void {
    if (this.muted) return;
    this.muted = true;
    this.cq.setFlags(abi.IORING_CQ_EVENTFD_DISABLED);
  }

  arm(): boolean {
    if (!this.muted) return false;
    this.muted = false;
    this.cq.setFlags(0);
    // Anything queued while muted sent no signal: look before sleeping.
    Atomics.load(this.sq.words, 0); // full fence between the store and the loads
    const pendingWork = (this.sq.flags() & (abi.IORING_SQ_TASKRUN | abi.IORING_SQ_CQ_OVERFLOW)) !== 0;
    return pendingWork || this.cq.tail() !== this.cq.head();
  }

  start(onReady: () => void): void {
    const w = this.n.watch(this.fd, onReady);
    if (typeof w === 'number') throw errnoError(w, 'uv_poll_init');
    this.watchHandle = w;
  }

  ref(on: boolean): void {
    if (this.watchHandle) this.n.ref(this.watchHandle, on);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.watchHandle) this.n.unwatch(this.watchHandle);
    this.watchHandle = null;
    this.n.close(this.mapped.handle);
  }

  readonly addressOf = (view: Uint8Array): number => this.n.addressOf(view);

  /** The kernel reaches pool memory by its real address: nothing to do. */
  attachRegion(): void {}
}
