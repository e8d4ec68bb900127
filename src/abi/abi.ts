// The Linux io_uring ABI: one definition of each number, named exactly as in
// include/uapi/linux/io_uring.h so a reader can grep the kernel for it.
// Nothing here has behaviour; the ring modules build on these names.

// enum io_uring_op
export const IORING_OP_NOP = 0;
export const IORING_OP_READV = 1;
export const IORING_OP_WRITEV = 2;
export const IORING_OP_FSYNC = 3;
export const IORING_OP_READ_FIXED = 4;
export const IORING_OP_WRITE_FIXED = 5;
export const IORING_OP_POLL_ADD = 6;
export const IORING_OP_POLL_REMOVE = 7;
export const IORING_OP_SYNC_FILE_RANGE = 8;
export const IORING_OP_SENDMSG = 9;
export const IORING_OP_RECVMSG = 10;
export const IORING_OP_TIMEOUT = 11;
export const IORING_OP_TIMEOUT_REMOVE = 12;
export const IORING_OP_ACCEPT = 13;
export const IORING_OP_ASYNC_CANCEL = 14;
export const IORING_OP_LINK_TIMEOUT = 15;
export const IORING_OP_CONNECT = 16;
export const IORING_OP_FALLOCATE = 17;
export const IORING_OP_OPENAT = 18;
export const IORING_OP_CLOSE = 19;
export const IORING_OP_FILES_UPDATE = 20;
export const IORING_OP_STATX = 21;
export const IORING_OP_READ = 22;
export const IORING_OP_WRITE = 23;
export const IORING_OP_FADVISE = 24;
export const IORING_OP_MADVISE = 25;
export const IORING_OP_SEND = 26;
export const IORING_OP_RECV = 27;
export const IORING_OP_OPENAT2 = 28;
export const IORING_OP_EPOLL_CTL = 29;
export const IORING_OP_SPLICE = 30;
export const IORING_OP_PROVIDE_BUFFERS = 31;
export const IORING_OP_REMOVE_BUFFERS = 32;
export const IORING_OP_TEE = 33;
export const IORING_OP_SHUTDOWN = 34;
export const IORING_OP_RENAMEAT = 35;
export const IORING_OP_UNLINKAT = 36;
export const IORING_OP_MKDIRAT = 37;
export const IORING_OP_SYMLINKAT = 38;
export const IORING_OP_LINKAT = 39;
export const IORING_OP_MSG_RING = 40;
export const IORING_OP_FSETXATTR = 41;
export const IORING_OP_SETXATTR = 42;
export const IORING_OP_FGETXATTR = 43;
export const IORING_OP_GETXATTR = 44;
export const IORING_OP_SOCKET = 45;
export const IORING_OP_URING_CMD = 46;
export const IORING_OP_SEND_ZC = 47;
export const IORING_OP_SENDMSG_ZC = 48;
export const IORING_OP_READ_MULTISHOT = 49;
export const IORING_OP_WAITID = 50;
export const IORING_OP_FUTEX_WAIT = 51;
export const IORING_OP_FUTEX_WAKE = 52;
export const IORING_OP_FUTEX_WAITV = 53;
export const IORING_OP_FIXED_FD_INSTALL = 54;
export const IORING_OP_FTRUNCATE = 55;
export const IORING_OP_BIND = 56;
export const IORING_OP_LISTEN = 57;
export const IORING_OP_RECV_ZC = 58;
export const IORING_OP_EPOLL_WAIT = 59;
export const IORING_OP_READV_FIXED = 60;
export const IORING_OP_WRITEV_FIXED = 61;
export const IORING_OP_PIPE = 62;

/** Opcode names by number, for errors and probes. */
export const IORING_OP_NAMES: readonly string[] = [
  'NOP', 'READV', 'WRITEV', 'FSYNC', 'READ_FIXED', 'WRITE_FIXED', 'POLL_ADD', 'POLL_REMOVE',
  'SYNC_FILE_RANGE', 'SENDMSG', 'RECVMSG', 'TIMEOUT', 'TIMEOUT_REMOVE', 'ACCEPT', 'ASYNC_CANCEL',
  'LINK_TIMEOUT', 'CONNECT', 'FALLOCATE', 'OPENAT', 'CLOSE', 'FILES_UPDATE', 'STATX', 'READ', 'WRITE',
  'FADVISE', 'MADVISE', 'SEND', 'RECV', 'OPENAT2', 'EPOLL_CTL', 'SPLICE', 'PROVIDE_BUFFERS',
  'REMOVE_BUFFERS', 'TEE', 'SHUTDOWN', 'RENAMEAT', 'UNLINKAT', 'MKDIRAT', 'SYMLINKAT', 'LINKAT',
  'MSG_RING', 'FSETXATTR', 'SETXATTR', 'FGETXATTR', 'GETXATTR', 'SOCKET', 'URING_CMD', 'SEND_ZC',
  'SENDMSG_ZC', 'READ_MULTISHOT', 'WAITID', 'FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_WAITV',
  'FIXED_FD_INSTALL', 'FTRUNCATE', 'BIND', 'LISTEN', 'RECV_ZC', 'EPOLL_WAIT', 'READV_FIXED',
  'WRITEV_FIXED', 'PIPE',
];

// sqe->flags
export const IOSQE_FIXED_FILE = 1 << 0;
export const IOSQE_IO_DRAIN = 1 << 1;
export const IOSQE_IO_LINK = 1 << 2;
export const IOSQE_IO_HARDLINK = 1 << 3;
export const IOSQE_ASYNC = 1 << 4;
export const IOSQE_BUFFER_SELECT = 1 << 5;
export const IOSQE_CQE_SKIP_SUCCESS = 1 << 6;

// io_uring_setup() flags
export const IORING_SETUP_IOPOLL = 1 << 0;
export const IORING_SETUP_SQPOLL = 1 << 1;
export const IORING_SETUP_SQ_AFF = 1 << 2;
export const IORING_SETUP_CQSIZE = 1 << 3;
export const IORING_SETUP_CLAMP = 1 << 4;
export const IORING_SETUP_ATTACH_WQ = 1 << 5;
export const IORING_SETUP_R_DISABLED = 1 << 6;
export const IORING_SETUP_SUBMIT_ALL = 1 << 7;
export const IORING_SETUP_COOP_TASKRUN = 1 << 8;
export const IORING_SETUP_TASKRUN_FLAG = 1 << 9;
export const IORING_SETUP_SQE128 = 1 << 10;
export const IORING_SETUP_CQE32 = 1 << 11;
export const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
export const IORING_SETUP_DEFER_TASKRUN = 1 << 13;
export const IORING_SETUP_NO_MMAP = 1 << 14;
export const IORING_SETUP_REGISTERED_FD_ONLY = 1 << 15;
export const IORING_SETUP_NO_SQARRAY = 1 << 16;
export const IORING_SETUP_HYBRID_IOPOLL = 1 << 17;

// io_uring_params->features
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
export const IORING_FEAT_NODROP = 1 << 1;
export const IORING_FEAT_SUBMIT_STABLE = 1 << 2;
export const IORING_FEAT_RW_CUR_POS = 1 << 3;
export const IORING_FEAT_CUR_PERSONALITY = 1 << 4;
export const IORING_FEAT_FAST_POLL = 1 << 5;
export const IORING_FEAT_POLL_32BITS = 1 << 6;
export const IORING_FEAT_SQPOLL_NONFIXED = 1 << 7;
export const IORING_FEAT_EXT_ARG = 1 << 8;
export const IORING_FEAT_NATIVE_WORKERS = 1 << 9;
export const IORING_FEAT_RSRC_TAGS = 1 << 10;
export const IORING_FEAT_CQE_SKIP = 1 << 11;
export const IORING_FEAT_LINKED_FILE = 1 << 12;
export const IORING_FEAT_REG_REG_RING = 1 << 13;
export const IORING_FEAT_RECVSEND_BUNDLE = 1 << 14;
export const IORING_FEAT_MIN_TIMEOUT = 1 << 15;
export const IORING_FEAT_RW_ATTR = 1 << 16;

// io_uring_enter() flags
export const IORING_ENTER_GETEVENTS = 1 << 0;
export const IORING_ENTER_SQ_WAKEUP = 1 << 1;
export const IORING_ENTER_SQ_WAIT = 1 << 2;
export const IORING_ENTER_EXT_ARG = 1 << 3;
export const IORING_ENTER_REGISTERED_RING = 1 << 4;
export const IORING_ENTER_ABS_TIMER = 1 << 5;
export const IORING_ENTER_EXT_ARG_REG = 1 << 6;

// sq_ring->flags
export const IORING_SQ_NEED_WAKEUP = 1 << 0;
export const IORING_SQ_CQ_OVERFLOW = 1 << 1;
export const IORING_SQ_TASKRUN = 1 << 2;

// cq_ring->flags
export const IORING_CQ_EVENTFD_DISABLED = 1 << 0;

// cqe->flags
export const IORING_CQE_F_BUFFER = 1 << 0;
export const IORING_CQE_F_MORE = 1 << 1;
export const IORING_CQE_F_SOCK_NONEMPTY = 1 << 2;
export const IORING_CQE_F_NOTIF = 1 << 3;
export const IORING_CQE_F_BUF_MORE = 1 << 4;
export const IORING_CQE_BUFFER_SHIFT = 16;

// sqe->fsync_flags
export const IORING_FSYNC_DATASYNC = 1 << 0;

// sqe->timeout_flags
export const IORING_TIMEOUT_ABS = 1 << 0;
export const IORING_TIMEOUT_UPDATE = 1 << 1;
export const IORING_TIMEOUT_BOOTTIME = 1 << 2;
export const IORING_TIMEOUT_REALTIME = 1 << 3;
export const IORING_LINK_TIMEOUT_UPDATE = 1 << 4;
export const IORING_TIMEOUT_ETIME_SUCCESS = 1 << 5;
export const IORING_TIMEOUT_MULTISHOT = 1 << 6;

// sqe->splice_flags
export const SPLICE_F_FD_IN_FIXED = 0x80000000;

// POLL_ADD command flags, carried in sqe->len
export const IORING_POLL_ADD_MULTI = 1 << 0;
export const IORING_POLL_UPDATE_EVENTS = 1 << 1;
export const IORING_POLL_UPDATE_USER_DATA = 1 << 2;
export const IORING_POLL_ADD_LEVEL = 1 << 3;

// ASYNC_CANCEL flags
export const IORING_ASYNC_CANCEL_ALL = 1 << 0;
export const IORING_ASYNC_CANCEL_FD = 1 << 1;
export const IORING_ASYNC_CANCEL_ANY = 1 << 2;
export const IORING_ASYNC_CANCEL_FD_FIXED = 1 << 3;
export const IORING_ASYNC_CANCEL_USERDATA = 1 << 4;
export const IORING_ASYNC_CANCEL_OP = 1 << 5;

// send/recv flags in sqe->ioprio
export const IORING_RECVSEND_POLL_FIRST = 1 << 0;
export const IORING_RECV_MULTISHOT = 1 << 1;
export const IORING_RECVSEND_FIXED_BUF = 1 << 2;
export const IORING_SEND_ZC_REPORT_USAGE = 1 << 3;
export const IORING_RECVSEND_BUNDLE = 1 << 4;

// accept flags in sqe->ioprio
export const IORING_ACCEPT_MULTISHOT = 1 << 0;
export const IORING_ACCEPT_DONTWAIT = 1 << 1;
export const IORING_ACCEPT_POLL_FIRST = 1 << 2;

// IORING_OP_MSG_RING
export const IORING_MSG_DATA = 0;
export const IORING_MSG_SEND_FD = 1;
export const IORING_MSG_RING_CQE_SKIP = 1 << 0;
export const IORING_MSG_RING_FLAGS_PASS = 1 << 1;

export const IORING_FIXED_FD_NO_CLOEXEC = 1 << 0;
export const IORING_NOP_INJECT_RESULT = 1 << 0;

/** sqe->file_index value asking the kernel to pick a direct descriptor slot. */
export const IORING_FILE_INDEX_ALLOC = 0xffffffff;

// mmap offsets
export const IORING_OFF_SQ_RING = 0;
export const IORING_OFF_CQ_RING = 0x8000000;
export const IORING_OFF_SQES = 0x10000000;
export const IORING_OFF_PBUF_RING = 0x80000000;
export const IORING_OFF_PBUF_SHIFT = 16;

// enum io_uring_register_op
export const IORING_REGISTER_BUFFERS = 0;
export const IORING_UNREGISTER_BUFFERS = 1;
export const IORING_REGISTER_FILES = 2;
export const IORING_UNREGISTER_FILES = 3;
export const IORING_REGISTER_EVENTFD = 4;
export const IORING_UNREGISTER_EVENTFD = 5;
export const IORING_REGISTER_FILES_UPDATE = 6;
export const IORING_REGISTER_EVENTFD_ASYNC = 7;
export const IORING_REGISTER_PROBE = 8;
export const IORING_REGISTER_PERSONALITY = 9;
export const IORING_UNREGISTER_PERSONALITY = 10;
export const IORING_REGISTER_RESTRICTIONS = 11;
export const IORING_REGISTER_ENABLE_RINGS = 12;
export const IORING_REGISTER_FILES2 = 13;
export const IORING_REGISTER_FILES_UPDATE2 = 14;
export const IORING_REGISTER_BUFFERS2 = 15;
export const IORING_REGISTER_BUFFERS_UPDATE = 16;
export const IORING_REGISTER_IOWQ_AFF = 17;
export const IORING_UNREGISTER_IOWQ_AFF = 18;
export const IORING_REGISTER_IOWQ_MAX_WORKERS = 19;
export const IORING_REGISTER_RING_FDS = 20;
export const IORING_UNREGISTER_RING_FDS = 21;
export const IORING_REGISTER_PBUF_RING = 22;
export const IORING_UNREGISTER_PBUF_RING = 23;
export const IORING_REGISTER_SYNC_CANCEL = 24;
export const IORING_REGISTER_FILE_ALLOC_RANGE = 25;
export const IORING_REGISTER_PBUF_STATUS = 26;
export const IORING_REGISTER_NAPI = 27;
export const IORING_UNREGISTER_NAPI = 28;
export const IORING_REGISTER_CLOCK = 29;
export const IORING_REGISTER_CLONE_BUFFERS = 30;
export const IORING_REGISTER_SEND_MSG_RING = 31;
export const IORING_REGISTER_ZCRX_IFQ = 32;
export const IORING_REGISTER_RESIZE_RINGS = 33;
export const IORING_REGISTER_MEM_REGION = 34;
export const IORING_REGISTER_USE_REGISTERED_RING = 0x80000000;

export const IORING_RSRC_REGISTER_SPARSE = 1 << 0;
export const IORING_REGISTER_FILES_SKIP = -2;
export const IO_URING_OP_SUPPORTED = 1 << 0;

// io_uring_restriction->opcode
export const IORING_RESTRICTION_REGISTER_OP = 0;
export const IORING_RESTRICTION_SQE_OP = 1;
export const IORING_RESTRICTION_SQE_FLAGS_ALLOWED = 2;
export const IORING_RESTRICTION_SQE_FLAGS_REQUIRED = 3;

// io_uring_register_pbuf_ring flags
export const IOU_PBUF_RING_MMAP = 1;
export const IOU_PBUF_RING_INC = 2;

/** struct io_uring_sqe: byte offsets of each field. */
export const SQE = {
  size: 64,
  opcode: 0, // u8
  flags: 1, // u8
  ioprio: 2, // u16
  fd: 4, // s32
  off: 8, // u64, also addr2, cmd_op
  addr: 16, // u64, also splice_off_in, level/optname
  len: 24, // u32
  op_flags: 28, // u32 union: rw_flags, fsync_flags, open_flags, timeout_flags, ...
  user_data: 32, // u64
  buf_index: 40, // u16, also buf_group
  personality: 42, // u16
  file_index: 44, // u32, also splice_fd_in, optlen, addr_len
  addr3: 48, // u64
  pad2: 56, // u64
} as const;

/** struct io_uring_cqe: byte offsets. */
export const CQE = { size: 16, user_data: 0, res: 8, flags: 12 } as const;

/** struct io_uring_params, with io_sqring_offsets and io_cqring_offsets inlined. */
export const PARAMS = {
  size: 120,
  sq_entries: 0,
  cq_entries: 4,
  flags: 8,
  sq_thread_cpu: 12,
  sq_thread_idle: 16,
  features: 20,
  wq_fd: 24,
  sq_off: { head: 40, tail: 44, ring_mask: 48, ring_entries: 52, flags: 56, dropped: 60, array: 64 },
  cq_off: { head: 80, tail: 84, ring_mask: 88, ring_entries: 92, overflow: 96, cqes: 100, flags: 104 },
} as const;

/** struct io_uring_probe header + struct io_uring_probe_op[] (8 bytes each). */
export const PROBE = { header: 16, op_size: 8, last_op: 0, ops_len: 1, op_flags: 2 } as const;

/** struct io_uring_rsrc_register (32 bytes) and io_uring_rsrc_update2 (32 bytes). */
export const RSRC_REGISTER = { size: 32, nr: 0, flags: 4, data: 16, tags: 24 } as const;
export const RSRC_UPDATE2 = { size: 32, offset: 0, data: 8, tags: 16, nr: 24 } as const;

/** struct io_uring_buf_reg (40 bytes) and io_uring_buf (16 bytes). */
export const BUF_REG = { size: 40, ring_addr: 0, ring_entries: 8, bgid: 12, flags: 14 } as const;
export const BUF = { size: 16, addr: 0, len: 8, bid: 12, tail: 14 } as const;

/** struct __kernel_timespec and struct iovec (64-bit). */
export const TIMESPEC = { size: 16, tv_sec: 0, tv_nsec: 8 } as const;
export const IOVEC = { size: 16, base: 0, len: 8 } as const;

/** struct open_how for openat2. */
export const OPEN_HOW = { size: 24, flags: 0, mode: 8, resolve: 16 } as const;

/** struct statx: the offsets of the fields fs.Stats needs. */
export const STATX = {
  size: 256,
  mask: 0, blksize: 4, attributes: 8, nlink: 16, uid: 20, gid: 24, mode: 28,
  ino: 32, size_: 40, blocks: 48, attributes_mask: 56,
  atime: 64, btime: 80, ctime: 96, mtime: 112, // struct statx_timestamp { s64 sec; u32 nsec; s32 pad }
  rdev_major: 128, rdev_minor: 132, dev_major: 136, dev_minor: 140,
} as const;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_AS_STAT = 0;
