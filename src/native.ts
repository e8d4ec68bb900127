// Loads the C shim. Missing on platforms without io_uring (or when the
// build failed): callers check `native` and fall back to the worker backend.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface SetupResult {
  handle: object;
  fd: number;
  rings: ArrayBuffer;
  cq: ArrayBuffer;
  sqes: ArrayBuffer;
}

export interface Native {
  setup(entries: number, params: Uint8Array): SetupResult | number;
  close(handle: object): number;
  enter(fd: number, toSubmit: number, minComplete: number, flags: number): number;
  register(fd: number, opcode: number, arg: ArrayBufferView | null, nr: number): number;
  addressOf(view: ArrayBufferView | ArrayBuffer): number;
  watch(fd: number, onReadable: () => void): object | number;
  ref(watch: object, on: boolean): void;
  unwatch(watch: object): void;
  memlock(): number;
}

function load(): { native: Native | null; error: string } {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    const require = createRequire(import.meta.url);
    const gypBuild = require('node-gyp-build') as (dir: string) => Partial<Native>;
    const mod = gypBuild(root);
    if (typeof mod.setup !== 'function') return { native: null, error: `io_uring is not available on ${process.platform}` };
    return { native: mod as Native, error: '' };
  } catch (e) {
    return { native: null, error: `native addon failed to load: ${(e as Error).message}` };
  }
}

const loaded = load();
export const native: Native | null = loaded.native;
export const nativeError: string = loaded.error;
