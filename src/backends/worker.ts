// The worker backend: the io_uring model without the kernel. The ring is a
// SharedArrayBuffer with the kernel's SQE/CQE layout (worker/layout.ts); the
// executor writes SQEs and reaps CQEs exactly as it does on io_uring, and a
// scheme served by worker threads (the fs scheme by default, user schemes
// through scheme.ts) consumes the SQEs and produces the CQEs.
//
// Wakeups are futex-style on the ring indices, in both directions, and
// only when the other side said it sleeps: a busy ring costs no notifies
// (worker/consumer.ts, worker/thread.ts).

import * as abi from '../abi/abi.js';
import { SubmissionQueue, CompletionQueue } from '../queues/queue.js';
import { uringError } from '../errors.js';
import type { Backend } from '../queues/backend.js';
import type { KernelOptions } from './kernel.js';
import { ringLayout, createRing, RingView, MAX_PRODUCERS } from './worker/layout.js';
import { RingConsumer, type ConsumerStats } from './worker/consumer.js';
import { WorkerHost, sharedHost } from './worker/host.js';
import { register, type RegisterState } from './worker/register.js';
import type { FileTable } from './worker/files.js';
import { URING_CQE_F_PEER_DIED } from '../abi/cqe-flags.js';

export interface WorkerOptions {
  /**
   * Scheme worker threads serving the ring. By default every ring shares one
   * process-wide set of min(4, cores) threads; a number gives this ring
   * threads of its own.
   */
  workers?: number;
}

/**
 * A scheme this transport serves: the URL of a module exporting opTable()
 * (see OpTableModule), and the opcodes it advertises, known before any
 * worker is up (supports() answers synchronously).
 */
export interface SchemeTable {
  readonly url: string;
  readonly opcodes: readonly number[];
}

/** Everything a userspace ring can be built with. */
export interface WorkerRingConfig {
  entries: number;
  cqEntries: number;
  /** Threads of the ring's own; omitted: the process-wide host serving the same schemes. */
  workers?: number;
  /** The schemes served, besides the core ops (NOP, TIMEOUT, ASYNC_CANCEL, ...). */
  tables: readonly SchemeTable[];
  /** Use the indirect SQ index array (default: IORING_SETUP_NO_SQARRAY). */
  sqArray?: boolean;
  /** Initial value of all four ring indices (tests cross 2^32 with it). */
  start?: number;
  /** Spin iterations before a worker sleeps. */
  spin?: number;
}

export interface WorkerBackendStats extends ConsumerStats {
  workers: number;
  /** Workers replaced after dying. */
  restarts: number;
}

const ECANCELED = 125;
const MAX_ENTRIES = 32768;
const DEFAULT_SPIN = Number(process.env.URING_WORKER_SPIN ?? 2000);
const CORE_OPCODES = [abi.IORING_OP_NOP, abi.IORING_OP_TIMEOUT, abi.IORING_OP_TIMEOUT_REMOVE, abi.IORING_OP_ASYNC_CANCEL, abi.IORING_OP_LINK_TIMEOUT];

function outOfRange(name: string, v: number, min: number, max: number): Error {
  const err = new RangeError(`The value of "${name}" is out of range. It must be an integer >= ${min} and <= ${max}. Received ${v}`) as RangeError & { code: string };
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw outOfRange(name, v, min, max);
  return v;
}

const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(n));

export class WorkerBackend implements Backend {
  readonly name = 'worker' as const;
  readonly sq: SubmissionQueue;
  readonly cq: CompletionQueue;
  /** What the emulation honours, in io_uring's terms. */
  readonly features =
    abi.IORING_FEAT_NODROP | abi.IORING_FEAT_SUBMIT_STABLE | abi.IORING_FEAT_RW_CUR_POS | abi.IORING_FEAT_CQE_SKIP | abi.IORING_FEAT_LINKED_FILE;
  readonly setupFlags: number;
  readonly addressOf = null;
  /** Resolves with the custom opcodes once a worker is up; rejects if none can start. */
  readonly ready: Promise<number[]>;
  readonly view: RingView;
  /** The threads serving this ring (shared with other rings unless `workers` was given). */
  readonly host: WorkerHost;
  private readonly ringId: number;
  private readonly ownHost: boolean;
  private readonly consumer: RingConsumer;
  private readonly opcodes = new Uint8Array(256);
  private readonly regions: Uint8Array[] = [];
  private readonly reg: RegisterState;
  private failed: string | null = null;
  private destroyed = false;

  /** A ring with the Ring API's options, serving `tables` (the selector's fallback passes the fs scheme). */
  static open(opts: KernelOptions & WorkerOptions, tables: readonly SchemeTable[]): WorkerBackend {
    const entries = checkInt('entries', opts.entries ?? 256, 1, MAX_ENTRIES);
    const cqEntries = checkInt('cqEntries', opts.cqEntries ?? entries * 2, 1, 2 * MAX_ENTRIES);
    if (cqEntries < entries) throw uringError('ERR_OUT_OF_RANGE', `cqEntries (${cqEntries}) must be >= entries (${entries})`);
    const workers = opts.workers === undefined ? undefined : checkInt('workers', opts.workers, 1, MAX_PRODUCERS);
    return new WorkerBackend({ entries, cqEntries, workers, tables });
  }

  constructor(cfg: WorkerRingConfig) {
    const spin = cfg.spin ?? DEFAULT_SPIN;
    const urls = cfg.tables.map((t) => t.url);
    this.ownHost = cfg.workers !== undefined;
    this.host = this.ownHost ? new WorkerHost({ workers: cfg.workers!, tables: urls, spin }) : sharedHost(urls, spin);
    const layout = ringLayout(pow2(cfg.entries), pow2(cfg.cqEntries), this.host.size, cfg.sqArray ?? false);
    const sab = createRing(layout, cfg.start ?? 0);
    this.view = new RingView(sab, layout);
    this.sq = new SubmissionQueue(sab, this.view.sqOffsets(), sab);
    this.cq = new CompletionQueue(sab, this.view.cqOffsets());
    this.setupFlags = abi.IORING_SETUP_CQSIZE | (cfg.sqArray ? 0 : abi.IORING_SETUP_NO_SQARRAY);
    for (const op of CORE_OPCODES) this.opcodes[op] = 1;
    for (const t of cfg.tables) for (const op of t.opcodes) this.opcodes[op] = 1;
    this.consumer = new RingConsumer(this.view, this.host.view);
    // Nothing the worker threads keep alive (their listeners, the ready
    // promise) may hold the backend strongly: a ring dropped without
    // close() must be collectable, and detached (below).
    const me = new WeakRef(this);
    const host = this.host;
    const opcodes = this.opcodes;
    this.ready = host.ready.then((ops) => {
      for (const op of ops) opcodes[op] = 1;
      return ops;
    });
    this.ready.catch(() => {}); // a failed start surfaces through the ops (ERR_URING_WORKER_DIED)
    const regions = this.regions;
    let ring = 0;
    this.reg = {
      files: null,
      buffers: null,
      resolve: (addr, len) => resolve(regions, addr, len),
      supports: (op) => opcodes[op] === 1,
      publishFiles(t: FileTable | null) {
        this.files = t;
        host.control({ t: 'files', ring, sab: t ? t.sab : null });
      },
      publishBuffers(list: number[] | null) {
        this.buffers = list;
        host.control({ t: 'buffers', ring, list });
      },
    };
    ring = this.ringId = host.attach(sab, layout, {
      died: (held) => me.deref()?.answerDead(held),
      fatal: (reason) => me.deref()?.fail(reason),
    });
    reaper.register(this, { host, ring, own: this.ownHost, consumer: this.consumer, reg: this.reg }, this);
  }

  private fail(reason: string): void {
    this.failed = reason;
    this.answerDead(this.consumer.claimAll());
  }

  /** Answers for SQEs no worker will ever answer: ERR_URING_WORKER_DIED. */
  private answerDead(held: number[]): void {
    if (this.destroyed) return;
    for (let k = 0; k < held.length; k += 2) this.consumer.post(held[k]! | 0, held[k + 1]! | 0, -ECANCELED, URING_CQE_F_PEER_DIED);
    this.consumer.flushBacklog();
    this.consumer.poke();
  }

  submit(count: number): number {
    if (this.failed) this.answerDead(this.consumer.claimAll());
    else {
      if (count === 0) this.consumer.waitForSpace();
      this.consumer.wake(count);
    }
    return count;
  }

  reap(): void {
    this.consumer.flushBacklog();
  }

  awake(): void {
    this.consumer.awake();
  }
  arm(inflight?: boolean): boolean {
    return this.consumer.arm(inflight);
  }

  start(onReady: () => void): void {
    this.consumer.start(onReady);
  }

  ref(on: boolean): void {
    this.consumer.ref(on);
  }

  supports(opcode: number): boolean {
    return this.opcodes[opcode & 0xff] === 1 && opcode >= 0 && opcode < 256;
  }

  register(opcode: number, arg: ArrayBufferView | null, nr: number): number {
    if (this.destroyed) return -9; // EBADF, as a closed ring fd
    return register(this.reg, opcode, arg, nr);
  }

  attachRegion(region: { id: number; sab: SharedArrayBuffer; bytes: Uint8Array; addr: number }): void {
    this.regions[region.id] = region.bytes;
    this.host.control({ t: 'region', ring: this.ringId, id: region.id, sab: region.sab, offset: region.bytes.byteOffset, size: region.bytes.byteLength });
  }

  /** Wakeup counters and worker restarts. */
  stats(): WorkerBackendStats {
    return { ...this.consumer.stats(), workers: this.host.size, restarts: this.host.restarts };
  }

  /** Terminates worker `index` as a crash would (tests). */
  killWorker(index: number): Promise<number> {
    return this.host.kill(index);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    reaper.unregister(this);
    release({ host: this.host, ring: this.ringId, own: this.ownHost, consumer: this.consumer, reg: this.reg });
  }
}

interface Owned {
  host: WorkerHost;
  ring: number;
  own: boolean;
  consumer: RingConsumer;
  reg: RegisterState;
}

function release(o: Owned): void {
  o.host.detach(o.ring);
  if (o.own) o.host.stop();
  o.consumer.destroy();
  o.reg.files?.clearAll();
}

/** A ring dropped without close(): its workers and owned fds go with it. */
const reaper = new FinalizationRegistry<Owned>(release);

function resolve(regions: Uint8Array[], addr: number, len: number): Uint8Array | null {
  const id = Math.floor(addr / 2 ** 40) - 1;
  const off = addr - (id + 1) * 2 ** 40;
  const r = regions[id];
  return r && off + len <= r.byteLength ? r.subarray(off, off + len) : null;
}
