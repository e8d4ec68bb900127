// Entry point of a scheme worker thread: one producer over the shared ring.
//
// The loop runs turns while there is work and sleeps in Atomics.wait on
// EVENT_SEQ when there is none, after a short spin (a busy ring hands the
// next batch over before we would have slept, saving the consumer a
// notify). The sleep flag is raised before the last look for work, and the
// consumer reads it after publishing its tail: whichever side is second
// sees the other (all Atomics are sequentially consistent), so no wakeup
// is lost. While async handlers are pending the worker must run its event
// loop, so it waits with Atomics.waitAsync instead.

import { workerData, parentPort, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Producer } from './producer.js';
import { waitAsync, type RingLayout } from './layout.js';
import { FileTable } from './files.js';
import { fsOps } from '../fs-scheme.js';
import { adaptHandler, handlerEntries } from '../scheme-types.js';

/** What the pool hands a worker at spawn. */
export interface WorkerBoot {
  sab: SharedArrayBuffer;
  layout: RingLayout;
  index: number;
  port: MessagePort;
  fs: boolean;
  modules: string[];
  /** Spin iterations before sleeping. */
  spin: number;
  state: ControlMsg[];
}

/** Control messages from the consumer: pool regions, file tables, registered buffers. */
export type ControlMsg =
  | { t: 'region'; id: number; sab: SharedArrayBuffer; offset: number; size: number }
  | { t: 'files'; sab: SharedArrayBuffer | null }
  | { t: 'buffers'; list: number[] | null };

/** Messages a worker sends its pool. */
export type WorkerReport = { t: 'ready'; opcodes: number[] } | { t: 'fatal'; message: string };

const boot = workerData as WorkerBoot;

function apply(p: Producer, m: ControlMsg): void {
  if (m.t === 'region') p.regions[m.id] = Buffer.from(m.sab, m.offset, m.size);
  else if (m.t === 'files') p.files = m.sab ? new FileTable(m.sab) : null;
  else p.buffers = m.list;
}

let wakeLocal: (() => void) | null = null;
const p = new Producer({
  sab: boot.sab,
  layout: boot.layout,
  index: boot.index,
  canBlock: true,
  control: () => {
    for (let m = receiveMessageOnPort(boot.port); m; m = receiveMessageOnPort(boot.port)) apply(p, m.message as ControlMsg);
  },
  onSettled: () => wakeLocal?.(),
});
for (const m of boot.state) apply(p, m);

const i32 = p.v.i32;
const sleepIdx = p.v.sleepBase + boot.index;

function sleepSync(): void {
  const seq = Atomics.load(i32, p.v.eventSeq);
  for (let k = 0; k < boot.spin; k++) if (p.hasWork()) return;
  Atomics.store(i32, sleepIdx, 1);
  if (!p.hasWork()) Atomics.wait(i32, p.v.eventSeq, seq, p.timeToNext());
  Atomics.store(i32, sleepIdx, 0);
}

let outstanding: Promise<void> | null = null;

async function sleepAsync(): Promise<void> {
  const seq = Atomics.load(i32, p.v.eventSeq);
  Atomics.store(i32, sleepIdx, 1);
  if (!p.hasWork()) {
    // One waiter at a time: a notify wakes it whatever value it expected.
    if (!outstanding) {
      const w = waitAsync(i32, p.v.eventSeq, seq);
      if (w.async) outstanding = w.value.then(() => void (outstanding = null));
    }
    if (outstanding) {
      const ms = p.timeToNext();
      let timer: NodeJS.Timeout | null = null;
      await Promise.race([
        outstanding,
        new Promise<void>((resolve) => {
          wakeLocal = resolve;
          if (ms !== Infinity) timer = setTimeout(resolve, ms);
        }),
      ]);
      wakeLocal = null;
      if (timer) clearTimeout(timer);
    }
  }
  Atomics.store(i32, sleepIdx, 0);
}

const yieldLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  if (boot.fs) for (const [op, h] of fsOps) p.handlers[op] = h;
  const opcodes: number[] = [];
  for (const url of boot.modules) {
    const mod = (await import(url)) as Record<string, unknown>;
    for (const [op, fn] of handlerEntries(mod, url)) {
      p.handlers[op] = adaptHandler(fn, boot.index);
      opcodes.push(op);
    }
  }
  parentPort!.postMessage({ t: 'ready', opcodes } satisfies WorkerReport);
  // Keeps this thread's loop alive while it awaits only waitAsync promises;
  // the pool unrefs the Worker, so this never holds the process.
  setInterval(() => {}, 1 << 30);
  for (;;) {
    if (p.turn()) {
      if (p.asyncPending > 0) await yieldLoop();
      continue;
    }
    if (p.asyncPending > 0) await sleepAsync();
    else sleepSync();
  }
}

main().catch((e: unknown) => {
  parentPort!.postMessage({ t: 'fatal', message: e instanceof Error ? e.message : String(e) } satisfies WorkerReport);
  process.exit(1);
});
