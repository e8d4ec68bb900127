// Schemes you define: services that consume SQEs and produce CQEs on a
// userspace ring, with opcodes of your own (128..255).
//
// - openScheme(): your handlers run in worker threads (a module path, loaded
//   by each worker); the main thread submits. The ring keeps the core ops
//   (NOP, TIMEOUT, LINK_TIMEOUT, ASYNC_CANCEL) and, with `fs: true`, the fs
//   opcodes too.
// - serveScheme() / connectScheme(): the reverse direction. Your handlers
//   run on the main thread (functions, no module); worker threads submit.
//
// Data travels through the scheme's buffer pool (SharedArrayBuffer regions):
// put a chunk's `addr` in the SQE, and the handler reads or writes the same
// memory through ctx.bytes(addr, len). Nothing is copied between threads.

import { pathToFileURL } from 'node:url';
import { Executor } from '../executor/executor.js';
import { BufferPool } from '../buffers/pool.js';
import { uringError } from '../errors.js';
import { WorkerBackend, type WorkerBackendStats } from '../backends/worker.js';
import { SCHEME_OPCODE_MIN } from './scheme-types.js';
import { fsSchemeTable } from './fs-scheme.js';
import { userTable } from './user-table.js';
import { SchemeSubmitter } from './scheme-submit.js';

export type { SchemeHandler, SchemeHandlers, SchemeRequest, SchemeContext } from './scheme-types.js';
export { serveScheme, connectScheme, SchemeServer, SchemeClient, type SchemeHandle } from './scheme-main.js';
export { SchemeSubmitter, prepSchemeSqe, type SchemeSqe } from './scheme-submit.js';

export interface SchemeOptions {
  /** The handler module: its default export maps opcodes (128..255) to handlers. */
  module: string | URL;
  /** Worker threads serving the scheme (default 1). */
  workers?: number;
  /** Serve the fs opcodes as well (default false: a ring with its own opcode space). */
  fs?: boolean;
  /** SQ entries (default 256) and CQ entries (default twice that). */
  entries?: number;
  cqEntries?: number;
}

/** A scheme served by worker threads running your handler module. */
export class Scheme extends SchemeSubmitter {
  readonly backend: WorkerBackend;
  /** Pool memory the handlers can reach: chunk.addr goes in the SQE. */
  readonly pool: BufferPool;
  /** The opcodes your module defines. */
  readonly opcodes: readonly number[];

  private constructor(backend: WorkerBackend, opcodes: number[]) {
    super(new Executor(backend));
    this.backend = backend;
    this.opcodes = opcodes;
    this.pool = new BufferPool({ addressOf: null });
    this.pool.onRegion = (r) => backend.attachRegion(r);
  }

  /** Starts the workers and waits until they have loaded the module. */
  static async open(opts: SchemeOptions): Promise<Scheme> {
    const url = opts.module instanceof URL ? opts.module.href : /^[a-z][a-z0-9+.-]*:/i.test(opts.module) ? opts.module : pathToFileURL(opts.module).href;
    const entries = opts.entries ?? 256;
    const backend = new WorkerBackend({
      entries, cqEntries: opts.cqEntries ?? 2 * entries, workers: opts.workers ?? 1,
      tables: opts.fs ? [fsSchemeTable, userTable(url)] : [userTable(url)],
    });
    let opcodes: number[];
    // The workers are unref'd: something must hold the loop while we wait for them.
    backend.ref(true);
    try {
      // The fs scheme's opcodes are io_uring's (< 128); the module's are its own.
      opcodes = (await backend.ready).filter((op) => op >= SCHEME_OPCODE_MIN);
    } catch (e) {
      backend.destroy();
      throw uringError('ERR_URING_SCHEME_LOAD', `scheme module ${url} could not be loaded: ${(e as Error).message}`);
    } finally {
      backend.ref(false);
    }
    return new Scheme(backend, opcodes);
  }

  supports(opcode: number): boolean {
    return this.backend.supports(opcode);
  }

  /** Wakeups, restarts: see WorkerBackendStats. */
  backendStats(): WorkerBackendStats {
    return this.backend.stats();
  }
}

/** Starts a scheme served in worker threads; see SchemeOptions. */
export function openScheme(opts: SchemeOptions): Promise<Scheme> {
  return Scheme.open(opts);
}

export { SCHEME_OPCODE_MIN };
