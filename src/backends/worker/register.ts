// io_uring_register(2) for a userspace ring: registered files (a shared
// FileTable the workers read) and registered buffers (bookkeeping: workers
// check READ_FIXED/WRITE_FIXED against them), plus PROBE. Arguments are the
// kernel's structs; pointers inside them must be pool addresses, the only
// memory a scheme can reach.

import * as abi from '../../abi/abi.js';
import { fstatSync } from 'node:fs';
import { FileTable } from './files.js';

const EINVAL = 22;
const EBUSY = 16;
const ENXIO = 6;
const EBADF = 9;
const EFAULT = 14;
const EMFILE = 24;
/** The kernel caps the table at RLIMIT_NOFILE; this is a sane ceiling for memory. */
const MAX_FILES = 1 << 20;
const TWO_32 = 4294967296;

export interface RegisterState {
  files: FileTable | null;
  buffers: number[] | null;
  /** Pool memory by synthetic address, or null outside the pool. */
  resolve(addr: number, len: number): Uint8Array | null;
  /** Opcodes served, for PROBE. */
  supports(op: number): boolean;
  /** Tells the workers about a new table / buffer list. */
  publishFiles(t: FileTable | null): void;
  publishBuffers(list: number[] | null): void;
}

function view(arg: ArrayBufferView | null, min: number): DataView | null {
  if (!arg || arg.byteLength < min) return null;
  return new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
}

const u64 = (d: DataView, o: number) => d.getUint32(o, true) + d.getUint32(o + 4, true) * TWO_32;

/** Fds to install, each checked to be open; -1 leaves a slot empty. */
function readFds(src: DataView, count: number): Int32Array | number {
  const fds = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const fd = src.getInt32(k * 4, true);
    if (fd !== -1 && fd !== abi.IORING_REGISTER_FILES_SKIP) {
      if (fd < 0) return -EBADF;
      try {
        fstatSync(fd);
      } catch {
        return -EBADF;
      }
    }
    fds[k] = fd;
  }
  return fds;
}

function poolView(st: RegisterState, addr: number, len: number): DataView | null {
  const b = st.resolve(addr, len);
  return b ? new DataView(b.buffer, b.byteOffset, b.byteLength) : null;
}

function newTable(st: RegisterState, fds: Int32Array | null, nr: number): number {
  if (st.files) return -EBUSY;
  if (nr === 0) return -EINVAL;
  if (nr > MAX_FILES) return -EMFILE;
  const t = FileTable.create(nr);
  if (fds) fds.forEach((fd, s) => fd >= 0 && t.install(s, fd));
  st.publishFiles(t);
  return 0;
}

function update(st: RegisterState, offset: number, fds: Int32Array): number {
  const t = st.files;
  if (!t) return -ENXIO;
  if (offset + fds.length > t.nr) return -EINVAL;
  fds.forEach((fd, k) => {
    if (fd === -1) t.clear(offset + k);
    else if (fd !== abi.IORING_REGISTER_FILES_SKIP) t.install(offset + k, fd);
  });
  return fds.length;
}

export function register(st: RegisterState, opcode: number, arg: ArrayBufferView | null, nr: number): number {
  switch (opcode) {
    case abi.IORING_REGISTER_BUFFERS: {
      if (st.buffers) return -EBUSY;
      const d = view(arg, nr * abi.IOVEC.size);
      if (!d || nr === 0) return -EINVAL;
      const list: number[] = [];
      for (let k = 0; k < nr; k++) list.push(u64(d, k * 16), u64(d, k * 16 + 8));
      st.publishBuffers(list);
      return 0;
    }
    case abi.IORING_UNREGISTER_BUFFERS:
      if (!st.buffers) return -ENXIO;
      st.publishBuffers(null);
      return 0;
    case abi.IORING_REGISTER_FILES: {
      const d = view(arg, nr * 4);
      if (!d) return -EINVAL;
      const fds = readFds(d, nr);
      return typeof fds === 'number' ? fds : newTable(st, fds, nr);
    }
    case abi.IORING_REGISTER_FILES2: {
      const d = view(arg, abi.RSRC_REGISTER.size);
      if (!d) return -EINVAL;
      const count = d.getUint32(abi.RSRC_REGISTER.nr, true);
      const flags = d.getUint32(abi.RSRC_REGISTER.flags, true);
      const data = u64(d, abi.RSRC_REGISTER.data);
      if (flags & ~abi.IORING_RSRC_REGISTER_SPARSE) return -EINVAL;
      if (flags & abi.IORING_RSRC_REGISTER_SPARSE) return data !== 0 ? -EINVAL : newTable(st, null, count);
      const src = poolView(st, data, count * 4);
      if (!src) return -EFAULT;
      const fds = readFds(src, count);
      return typeof fds === 'number' ? fds : newTable(st, fds, count);
    }
    case abi.IORING_UNREGISTER_FILES:
      if (!st.files) return -ENXIO;
      st.files.clearAll();
      st.publishFiles(null);
      return 0;
    case abi.IORING_REGISTER_FILES_UPDATE:
    case abi.IORING_REGISTER_FILES_UPDATE2: {
      const two = opcode === abi.IORING_REGISTER_FILES_UPDATE2;
      const d = view(arg, two ? abi.RSRC_UPDATE2.size : 16);
      if (!d) return -EINVAL;
      const count = two ? d.getUint32(abi.RSRC_UPDATE2.nr, true) : nr;
      const src = poolView(st, u64(d, 8), count * 4);
      if (!src) return -EFAULT;
      const fds = readFds(src, count);
      return typeof fds === 'number' ? fds : update(st, d.getUint32(0, true), fds);
    }
    case abi.IORING_REGISTER_PROBE: {
      const b = arg ? new Uint8Array(arg.buffer, arg.byteOffset, arg.byteLength) : null;
      if (!b || b.length < abi.PROBE.header + nr * abi.PROBE.op_size) return -EINVAL;
      b.fill(0);
      let last = 0;
      for (let op = 0; op < 256; op++) if (st.supports(op)) last = op;
      b[abi.PROBE.last_op] = last;
      const len = Math.min(nr, last + 1);
      b[abi.PROBE.ops_len] = len;
      for (let op = 0; op < len; op++) {
        const at = abi.PROBE.header + op * abi.PROBE.op_size;
        b[at] = op;
        b[at + abi.PROBE.op_flags] = st.supports(op) ? abi.IO_URING_OP_SUPPORTED : 0;
      }
      return 0;
    }
    default:
      return -EINVAL;
  }
}
