// uring: io_uring for TypeScript.
export { Ring, type RingOptions, type Statx } from './ring/ring.js';
export { Chain } from './ring/chain.js';
export { SqeWriter } from './ring/writer.js';
export {
  BufferPool, Chunk, Lease, LEASE_MODE, type PoolOptions, type PoolStats, type LeaseOptions, type FixedBuffer,
} from './buffers/pool.js';
export { BufRing, type BufRingOptions } from './buffers/bufring.js';
export { errnoError, type UringSystemError, type UringError } from './errors.js';
export type { ExecutorStats } from './executor/executor.js';
export * as constants from './abi/abi.js';
export { backendInfo, type BackendChoice, type BackendOptions } from './ring/select.js';
export type { Backend, BackendName } from './queues/backend.js';
// Schemes: your own opcodes on a userspace ring, served by workers or by the main thread.
export {
  openScheme, Scheme, serveScheme, connectScheme, SchemeServer, SchemeClient,
  type SchemeOptions, type SchemeSqe, type SchemeHandle, type SchemeHandler, type SchemeHandlers, type SchemeRequest, type SchemeContext,
} from './schemes/scheme.js';
export { WorkerBackend, type WorkerOptions, type WorkerBackendStats } from './backends/worker.js';
export { URING_CQE_F_EXTENDED, URING_CQE_F_EXTENDED_HI, URING_CQE_F_PEER_DIED } from './abi/cqe-flags.js';
// node:fs/promises on the ring (drop-in; `promises` also carries `constants`).
export {
  open, readFile, writeFile, appendFile, stat, lstat, access, unlink, rename, mkdir, rmdir, rm, copyFile, cp, truncate,
  symlink, link, readlink, realpath, readdir, opendir, mkdtemp, chmod, lchmod, chown, lchown, utimes, lutimes, statfs, watch,
  FileHandle,
} from './fs/promises.js';
export * as promises from './fs/promises.js';
