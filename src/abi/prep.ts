// SQE encoders, one per opcode, named and laid out as liburing's
// io_uring_prep_*. Each writes one SQE at word index `at` of `s` (16 u32
// words per SQE). They never touch user_data (words 8-9): the executor owns
// the tag. 64-bit fields are written as two little-endian u32 halves.

import * as abi from './abi.js';

const TWO_32 = 4294967296;

/** Writes a u64 (a non-negative integer below 2^53, or -1 for all ones). */
export function setU64(s: Uint32Array, i: number, v: number): void {
  s[i] = v >>> 0;
  s[i + 1] = Math.floor(v / TWO_32) >>> 0;
}

export function getU64(s: Uint32Array, i: number): number {
  return s[i]! + s[i + 1]! * TWO_32;
}

/** io_uring_prep_rw: the common layout, every field but user_data reset. */
export function prep_rw(s: Uint32Array, at: number, op: number, fd: number, addr: number, len: number, off: number): void {
  s[at] = op; // opcode, flags = 0, ioprio = 0
  s[at + 1] = fd;
  setU64(s, at + 2, off);
  setU64(s, at + 4, addr);
  s[at + 6] = len;
  s[at + 7] = 0; // op_flags
  s[at + 10] = 0; // buf_index, personality
  s[at + 11] = 0; // file_index / splice_fd_in
  s[at + 12] = 0;
  s[at + 13] = 0;
  s[at + 14] = 0;
  s[at + 15] = 0;
}

export function sqe_set_flags(s: Uint32Array, at: number, flags: number): void {
  s[at] = (s[at]! & ~0xff00) | ((flags & 0xff) << 8);
}

export function sqe_get_flags(s: Uint32Array, at: number): number {
  return (s[at]! >>> 8) & 0xff;
}

export function sqe_set_buf_index(s: Uint32Array, at: number, index: number): void {
  s[at + 10] = (s[at + 10]! & 0xffff0000) | (index & 0xffff);
}

export function sqe_set_ioprio(s: Uint32Array, at: number, ioprio: number): void {
  s[at] = (s[at]! & 0xffff) | ((ioprio & 0xffff) << 16);
}

/** __io_uring_set_target_fixed_file: direct descriptors are slot + 1. */
function set_target_fixed_file(s: Uint32Array, at: number, slot: number): void {
  s[at + 11] = slot === abi.IORING_FILE_INDEX_ALLOC ? slot : slot + 1;
}

export function prep_nop(s: Uint32Array, at: number): void {
  prep_rw(s, at, abi.IORING_OP_NOP, -1, 0, 0, 0);
}

export function prep_read(s: Uint32Array, at: number, fd: number, addr: number, nbytes: number, offset: number): void {
  prep_rw(s, at, abi.IORING_OP_READ, fd, addr, nbytes, offset);
}

export function prep_write(s: Uint32Array, at: number, fd: number, addr: number, nbytes: number, offset: number): void {
  prep_rw(s, at, abi.IORING_OP_WRITE, fd, addr, nbytes, offset);
}

export function prep_readv(s: Uint32Array, at: number, fd: number, iovecs: number, nr: number, offset: number, flags = 0): void {
  prep_rw(s, at, abi.IORING_OP_READV, fd, iovecs, nr, offset);
  s[at + 7] = flags;
}

export function prep_writev(s: Uint32Array, at: number, fd: number, iovecs: number, nr: number, offset: number, flags = 0): void {
  prep_rw(s, at, abi.IORING_OP_WRITEV, fd, iovecs, nr, offset);
  s[at + 7] = flags;
}

export function prep_read_fixed(s: Uint32Array, at: number, fd: number, addr: number, nbytes: number, offset: number, bufIndex: number): void {
  prep_rw(s, at, abi.IORING_OP_READ_FIXED, fd, addr, nbytes, offset);
  sqe_set_buf_index(s, at, bufIndex);
}

export function prep_write_fixed(s: Uint32Array, at: number, fd: number, addr: number, nbytes: number, offset: number, bufIndex: number): void {
  prep_rw(s, at, abi.IORING_OP_WRITE_FIXED, fd, addr, nbytes, offset);
  sqe_set_buf_index(s, at, bufIndex);
}

export function prep_fsync(s: Uint32Array, at: number, fd: number, fsyncFlags: number): void {
  prep_rw(s, at, abi.IORING_OP_FSYNC, fd, 0, 0, 0);
  s[at + 7] = fsyncFlags;
}

export function prep_sync_file_range(s: Uint32Array, at: number, fd: number, len: number, offset: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_SYNC_FILE_RANGE, fd, 0, len, offset);
  s[at + 7] = flags;
}

export function prep_openat(s: Uint32Array, at: number, dfd: number, path: number, flags: number, mode: number): void {
  prep_rw(s, at, abi.IORING_OP_OPENAT, dfd, path, mode, 0);
  s[at + 7] = flags;
}

export function prep_openat_direct(s: Uint32Array, at: number, dfd: number, path: number, flags: number, mode: number, slot: number): void {
  prep_openat(s, at, dfd, path, flags, mode);
  set_target_fixed_file(s, at, slot);
}

export function prep_openat2(s: Uint32Array, at: number, dfd: number, path: number, how: number): void {
  prep_rw(s, at, abi.IORING_OP_OPENAT2, dfd, path, abi.OPEN_HOW.size, how);
}

export function prep_close(s: Uint32Array, at: number, fd: number): void {
  prep_rw(s, at, abi.IORING_OP_CLOSE, fd, 0, 0, 0);
}

export function prep_close_direct(s: Uint32Array, at: number, slot: number): void {
  prep_close(s, at, 0);
  set_target_fixed_file(s, at, slot);
}

export function prep_statx(s: Uint32Array, at: number, dfd: number, path: number, flags: number, mask: number, statxbuf: number): void {
  prep_rw(s, at, abi.IORING_OP_STATX, dfd, path, mask, statxbuf);
  s[at + 7] = flags;
}

export function prep_fallocate(s: Uint32Array, at: number, fd: number, mode: number, offset: number, len: number): void {
  prep_rw(s, at, abi.IORING_OP_FALLOCATE, fd, 0, mode, offset);
  setU64(s, at + 4, len);
}

export function prep_fadvise(s: Uint32Array, at: number, fd: number, offset: number, len: number, advice: number): void {
  prep_rw(s, at, abi.IORING_OP_FADVISE, fd, 0, len, offset);
  s[at + 7] = advice;
}

export function prep_madvise(s: Uint32Array, at: number, addr: number, length: number, advice: number): void {
  prep_rw(s, at, abi.IORING_OP_MADVISE, -1, addr, length, 0);
  s[at + 7] = advice;
}

export function prep_unlinkat(s: Uint32Array, at: number, dfd: number, path: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_UNLINKAT, dfd, path, 0, 0);
  s[at + 7] = flags;
}

export function prep_renameat(s: Uint32Array, at: number, olddfd: number, oldpath: number, newdfd: number, newpath: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_RENAMEAT, olddfd, oldpath, newdfd, newpath);
  s[at + 7] = flags;
}

export function prep_mkdirat(s: Uint32Array, at: number, dfd: number, path: number, mode: number): void {
  prep_rw(s, at, abi.IORING_OP_MKDIRAT, dfd, path, mode, 0);
}

export function prep_symlinkat(s: Uint32Array, at: number, target: number, newdirfd: number, linkpath: number): void {
  prep_rw(s, at, abi.IORING_OP_SYMLINKAT, newdirfd, target, 0, linkpath);
}

export function prep_linkat(s: Uint32Array, at: number, olddfd: number, oldpath: number, newdfd: number, newpath: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_LINKAT, olddfd, oldpath, newdfd, newpath);
  s[at + 7] = flags;
}

export function prep_ftruncate(s: Uint32Array, at: number, fd: number, len: number): void {
  prep_rw(s, at, abi.IORING_OP_FTRUNCATE, fd, 0, 0, len);
}

export function prep_splice(s: Uint32Array, at: number, fdIn: number, offIn: number, fdOut: number, offOut: number, nbytes: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_SPLICE, fdOut, 0, nbytes, offOut);
  setU64(s, at + 4, offIn); // splice_off_in
  s[at + 11] = fdIn; // splice_fd_in
  s[at + 7] = flags;
}

export function prep_tee(s: Uint32Array, at: number, fdIn: number, fdOut: number, nbytes: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_TEE, fdOut, 0, nbytes, 0);
  s[at + 11] = fdIn;
  s[at + 7] = flags;
}

export function prep_timeout(s: Uint32Array, at: number, ts: number, count: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_TIMEOUT, -1, ts, 1, count);
  s[at + 7] = flags;
}

/** user_data of the timeout to remove, as its two u32 halves. */
export function prep_timeout_remove(s: Uint32Array, at: number, udLo: number, udHi: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_TIMEOUT_REMOVE, -1, 0, 0, 0);
  s[at + 4] = udLo;
  s[at + 5] = udHi;
  s[at + 7] = flags;
}

export function prep_link_timeout(s: Uint32Array, at: number, ts: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_LINK_TIMEOUT, -1, ts, 1, 0);
  s[at + 7] = flags;
}

/** io_uring_prep_cancel64: cancel by user_data (two u32 halves). */
export function prep_cancel(s: Uint32Array, at: number, udLo: number, udHi: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_ASYNC_CANCEL, -1, 0, 0, 0);
  s[at + 4] = udLo;
  s[at + 5] = udHi;
  s[at + 7] = flags;
}

/** io_uring_prep_cancel_fd: cancel whatever runs on `fd`. */
export function prep_cancel_fd(s: Uint32Array, at: number, fd: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_ASYNC_CANCEL, fd, 0, 0, 0);
  s[at + 7] = flags | abi.IORING_ASYNC_CANCEL_FD;
}

export function prep_poll_add(s: Uint32Array, at: number, fd: number, pollMask: number): void {
  prep_rw(s, at, abi.IORING_OP_POLL_ADD, fd, 0, 0, 0);
  s[at + 7] = pollMask; // poll32_events, little-endian hosts
}

export function prep_poll_multishot(s: Uint32Array, at: number, fd: number, pollMask: number): void {
  prep_poll_add(s, at, fd, pollMask);
  s[at + 6] = abi.IORING_POLL_ADD_MULTI;
}

export function prep_poll_remove(s: Uint32Array, at: number, udLo: number, udHi: number): void {
  prep_rw(s, at, abi.IORING_OP_POLL_REMOVE, -1, 0, 0, 0);
  s[at + 4] = udLo;
  s[at + 5] = udHi;
}

export function prep_files_update(s: Uint32Array, at: number, fds: number, nrFds: number, offset: number): void {
  prep_rw(s, at, abi.IORING_OP_FILES_UPDATE, -1, fds, nrFds, offset);
}

export function prep_provide_buffers(s: Uint32Array, at: number, addr: number, len: number, nr: number, bgid: number, bid: number): void {
  prep_rw(s, at, abi.IORING_OP_PROVIDE_BUFFERS, nr, addr, len, bid);
  s[at + 10] = bgid & 0xffff; // buf_group
}

export function prep_remove_buffers(s: Uint32Array, at: number, nr: number, bgid: number): void {
  prep_rw(s, at, abi.IORING_OP_REMOVE_BUFFERS, nr, 0, 0, 0);
  s[at + 10] = bgid & 0xffff;
}

export function prep_msg_ring(s: Uint32Array, at: number, fd: number, len: number, data: number, flags: number): void {
  prep_rw(s, at, abi.IORING_OP_MSG_RING, fd, 0, len, data);
  s[at + 7] = flags;
}
