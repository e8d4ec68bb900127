// Variant helpers shared by the peer modules (this file exports no `peer`).
import type { Variant } from '../types.js';

/** The same script in a child with libuv's io_uring switched on. */
export function uvVariant(base: string, order: number): Variant {
  return {
    impl: `${base} +UV_USE_IO_URING`,
    order,
    env: { UV_USE_IO_URING: '1' },
    available: (ctx) => ctx.uvIoUringWhy,
  };
}

/** The same script run by Bun (its node:fs). */
export function bunVariant(base: string, order: number): Variant {
  return {
    impl: `Bun ${base}`,
    order,
    runtime: 'bun',
    available: (ctx) => (ctx.bun ? null : ctx.bunWhy),
  };
}

/** uring on each backend, chosen by URING_BACKEND in the child. */
export function uringVariants(base: string, order: number): Variant[] {
  return [
    { impl: `uring ${base} (kernel)`, order, env: { URING_BACKEND: 'kernel' } },
    { impl: `uring ${base} (worker)`, order: order + 1, env: { URING_BACKEND: 'worker' } },
  ];
}
