// What the executor needs from a ring attachment. The kernel backend maps
// io_uring; the worker backend serves the same ring layout from a
// SharedArrayBuffer with scheme workers on the other side.

import type { SubmissionQueue, CompletionQueue } from './queue.js';

export type BackendName = 'kernel' | 'worker';

export interface Backend {
  readonly name: BackendName;
  readonly sq: SubmissionQueue;
  readonly cq: CompletionQueue;
  /** IORING_FEAT_* bits the attachment offers. */
  readonly features: number;
  /** IORING_SETUP_* flags in force. */
  readonly setupFlags: number;
  /**
   * Tells the consumer that `count` SQEs were published (and makes ready
   * completions visible). Returns the count consumed or -errno.
   */
  submit(count: number): number;
  /**
   * SQEs are about to be published. The caller is awake and calls arm()
   * before it sleeps, so completions need no wakeup meanwhile.
   */
  awake(): void;
  /** Makes completions that are ready visible in the CQ. */
  reap(): void;
  /**
   * Going idle: re-enables wakeups that were muted while we were awake.
   * Returns true if completions became ready in the meantime, in which case
   * the caller must reap and drain again rather than wait. `inflight` says
   * ops await completions; a userspace ring may then watch briefly before
   * it sleeps (the kernel ring never spins).
   */
  arm(inflight?: boolean): boolean;
  /** Calls `onReady` (from the event loop) whenever the CQ may have entries. */
  start(onReady: () => void): void;
  /** Whether the readiness watch keeps the process alive. */
  ref(on: boolean): void;
  /** Whether the consumer implements `opcode`. */
  supports(opcode: number): boolean;
  /** io_uring_register(2), or the scheme's emulation of it; result or -errno. */
  register(opcode: number, arg: ArrayBufferView | null, nr: number): number;
  /**
   * The address the consumer uses for a view's first byte: the real address
   * for the kernel; null when the consumer uses synthetic pool addresses.
   */
  readonly addressOf: ((view: Uint8Array) => number) | null;
  /** Called for every pool region, so the consumer can reach its memory. */
  attachRegion(region: { id: number; sab: SharedArrayBuffer; bytes: Uint8Array; addr: number }): void;
  /** Unmaps and releases everything. Called once, with nothing in flight. */
  destroy(): void;
}
