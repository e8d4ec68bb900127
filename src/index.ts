// uring: io_uring for TypeScript.
export { Ring, type RingOptions, type Statx } from './ring/ring.js';
export { Chain, SqeWriter } from './ring/writer.js';
export { BufferPool, Chunk, type PoolOptions } from './buffers/pool.js';
export { errnoError, type UringSystemError, type UringError } from './errors.js';
export type { ExecutorStats } from './executor.js';
export * as constants from './ring/abi.js';
export { backendInfo, type BackendChoice, type BackendOptions } from './backends/select.js';
export type { Backend, BackendName } from './backends/backend.js';
