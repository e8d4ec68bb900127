// The reverse direction: the main thread serves a scheme, worker threads
// submit to it. serveScheme() takes handler functions (no module: they run
// right here); server.connect() makes a ring for one client and returns a
// handle to pass to the worker (transfer handle.port); connectScheme(handle)
// in the worker gives it a client with the same call()/chain() as a Scheme,
// plus callSync() for code that may block.
//
// The server never blocks the main thread and never keeps the process
// alive: it waits for SQEs with Atomics.waitAsync, and its timers are
// unref'd. The worker thread's own lifetime is the client's business.

import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Executor } from '../executor/executor.js';
import { BufferPool } from '../buffers/pool.js';
import { SubmissionQueue, CompletionQueue } from '../queues/queue.js';
import * as abi from '../abi/abi.js';
import { errnoError } from '../errors.js';
import type { Backend } from '../queues/backend.js';
import { ringLayout, createRing, RingView, HostView, waitAsync, postCqes, wakeConsumer, CONSUMER_OWNER, type RingLayout } from '../backends/worker/layout.js';
import { RingConsumer } from '../backends/worker/consumer.js';
import { Producer } from '../backends/worker/producer.js';
import { reconcile } from '../backends/worker/host.js';
import { URING_CQE_F_PEER_DIED } from '../abi/cqe-flags.js';
import { adaptHandler, handlerEntries, type SchemeHandlers } from './scheme-types.js';
import { SchemeSubmitter, prepSchemeSqe, type SchemeSqe } from './scheme-submit.js';

/** What a client worker needs to reach a ring served on the main thread. */
export interface SchemeHandle {
  sab: SharedArrayBuffer;
  host: SharedArrayBuffer;
  layout: RingLayout;
  /** Carries the client's pool regions to the server: list it in transferList. */
  port: MessagePort;
}

interface RegionMsg {
  id: number;
  sab: SharedArrayBuffer;
  offset: number;
  size: number;
}

const ECANCELED = 125;
const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(n));

/** A scheme served by the main thread to worker-thread clients. */
export class SchemeServer {
  private readonly host = new HostView(new SharedArrayBuffer(HostView.BYTES));
  private readonly epoch = { seen: -1 };
  private readonly rings: Array<{ p: Producer; port: MessagePort }> = [];
  private readonly ops: ReturnType<typeof adaptHandler>[] = [];
  private readonly opcodes: number[] = [];
  private closed = false;
  private running = false;
  private wakeLocal: (() => void) | null = null;

  constructor(handlers: SchemeHandlers, private readonly opts: { entries?: number; cqEntries?: number } = {}) {
    for (const [op, fn] of handlerEntries({ default: handlers }, 'serveScheme')) {
      this.opcodes.push(op);
      this.ops[op] = adaptHandler(fn, -1);
    }
  }

  /** A ring for one client; hand the result to a worker and call connectScheme() there. */
  connect(): SchemeHandle {
    if (this.closed) throw errnoError(-9, 'connect');
    const entries = pow2(this.opts.entries ?? 256);
    const layout = ringLayout(entries, pow2(this.opts.cqEntries ?? 2 * entries), 1, false);
    const sab = createRing(layout);
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    const p = new Producer({
      sab, layout, index: 0, canBlock: false, host: this.host, epoch: this.epoch,
      control: () => this.control(), onSettled: () => this.wakeLocal?.(),
    });
    this.opcodes.forEach((op) => (p.handlers[op] = this.ops[op]));
    this.rings.push({ p, port: port1 });
    if (!this.running) void this.loop();
    return { sab, host: this.host.sab, layout, port: port2 };
  }

  private control(): void {
    this.epoch.seen = Atomics.load(this.host.i32, this.host.controlEpoch);
    for (const { p, port } of this.rings) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const r = m.message as RegionMsg;
        p.regions[r.id] = Buffer.from(r.sab, r.offset, r.size);
      }
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    let outstanding: Promise<unknown> | null = null;
    while (!this.closed) {
      let did = false;
      for (const { p } of this.rings) if (p.turn()) did = true;
      if (did) {
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      const seq = Atomics.load(this.host.i32, this.host.eventSeq);
      this.sleeping(1);
      if (!this.rings.some(({ p }) => p.hasWork())) {
        if (!outstanding) {
          const w = waitAsync(this.host.i32, this.host.eventSeq, seq);
          if (w.async) outstanding = w.value.then(() => (outstanding = null));
        }
        let timer: NodeJS.Timeout | null = null;
        const ms = Math.min(...this.rings.map(({ p }) => p.timeToNext()));
        await Promise.race([
          outstanding ?? Promise.resolve(),
          new Promise<void>((resolve) => {
            this.wakeLocal = resolve;
            if (ms !== Infinity) timer = setTimeout(resolve, ms).unref();
          }),
        ]);
        this.wakeLocal = null;
        if (timer) clearTimeout(timer);
      }
      this.sleeping(0);
    }
    this.running = false;
  }

  private sleeping(on: number): void {
    for (const { p } of this.rings) Atomics.store(p.v.i32, p.v.sleepBase, on);
  }

  /** Stops serving; ops still in flight fail with ERR_URING_WORKER_DIED on the client. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeLocal?.();
    for (const { p, port } of this.rings) {
      answerAll(p.v);
      port.close();
    }
    this.rings.length = 0;
  }
}

/** Answers every SQE the server held or had not claimed yet: nobody will serve them. */
function answerAll(v: RingView): void {
  const ids = reconcile(v, 0);
  const i = v.i32;
  const mask = v.layout.sqEntries - 1;
  let head = Atomics.load(i, v.sqHead) >>> 0;
  const tail = Atomics.load(i, v.sqTail) >>> 0;
  for (let n = Math.min((tail - head) >>> 0, v.layout.sqEntries); n > 0; n--, head = (head + 1) >>> 0) {
    ids.push(v.u32[((head & mask) << 4) + 8]!, v.u32[((head & mask) << 4) + 9]!);
  }
  Atomics.store(i, v.sqHead, head | 0);
  const cqes = new Int32Array(ids.length * 2);
  for (let k = 0; k < ids.length; k += 2) cqes.set([ids[k]! | 0, ids[k + 1]! | 0, -ECANCELED, URING_CQE_F_PEER_DIED], k * 2);
  // The client's CQ always has room for what it has in flight.
  postCqes(v, cqes, 0, ids.length / 2, CONSUMER_OWNER, false);
  wakeConsumer(v);
}

/** Serves `handlers` (opcode 128..255 → function) on this thread. */
export function serveScheme(handlers: SchemeHandlers, opts: { entries?: number; cqEntries?: number } = {}): SchemeServer {
  return new SchemeServer(handlers, opts);
}

/** The consumer end of a ring served by another thread (a client worker's backend). */
class ClientBackend implements Backend {
  readonly name = 'worker' as const;
  readonly sq: SubmissionQueue;
  readonly cq: CompletionQueue;
  readonly features = abi.IORING_FEAT_NODROP | abi.IORING_FEAT_SUBMIT_STABLE | abi.IORING_FEAT_CQE_SKIP;
  readonly setupFlags = abi.IORING_SETUP_CQSIZE | abi.IORING_SETUP_NO_SQARRAY;
  readonly addressOf = null;
  readonly consumer: RingConsumer;
  private readonly host: HostView;

  constructor(private readonly h: SchemeHandle) {
    const v = new RingView(h.sab, h.layout);
    this.host = new HostView(h.host);
    this.sq = new SubmissionQueue(h.sab, v.sqOffsets(), h.sab);
    this.cq = new CompletionQueue(h.sab, v.cqOffsets());
    this.consumer = new RingConsumer(v, this.host);
  }

  submit(count: number): number {
    this.consumer.wake(count);
    return count;
  }
  reap(): void {}
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
  supports(): boolean {
    return true; // the server answers -EINVAL for what it lacks
  }
  register(): number {
    return -22;
  }
  attachRegion(r: { id: number; sab: SharedArrayBuffer; bytes: Uint8Array }): void {
    this.h.port.postMessage({ id: r.id, sab: r.sab, offset: r.bytes.byteOffset, size: r.bytes.byteLength } satisfies RegionMsg);
    this.host.bumpControl();
  }
  destroy(): void {
    this.consumer.destroy();
    this.h.port.close();
  }
}

/** A worker thread's end of a scheme served by the main thread. */
export class SchemeClient extends SchemeSubmitter {
  readonly pool: BufferPool;
  private readonly backend: ClientBackend;

  constructor(handle: SchemeHandle) {
    const backend = new ClientBackend(handle);
    super(new Executor(backend));
    this.backend = backend;
    this.pool = new BufferPool({ addressOf: null });
    this.pool.onRegion = (r) => backend.attachRegion(r);
  }

  /** Like call(), but blocks this thread until the result is in (never use it on the main thread). */
  callSync(opcode: number, sqe: SchemeSqe = {}): number {
    const ex = this.executor;
    const job = ex.begin(`scheme op ${opcode}`);
    const at = ex.add(job);
    prepSchemeSqe(ex.sqes, at, opcode, sqe);
    ex.commit<number>(job).catch(() => {}); // answered synchronously below
    ex.flush();
    while (!job.finished) {
      this.backend.consumer.waitSync(1000);
      ex.drain();
    }
    const res = job.res[0]!;
    if (job.died) throw errnoError(-ECANCELED, job.syscall);
    if (res < 0) throw errnoError(res, job.syscall);
    return res;
  }
}

/** Connects a worker thread to a scheme the main thread serves (see SchemeServer.connect). */
export function connectScheme(handle: SchemeHandle): SchemeClient {
  return new SchemeClient(handle);
}
