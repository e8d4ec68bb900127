// CQE flag bits of the userspace rings. The kernel leaves bits 5..15 of
// cqe->flags unused (the upper 16 bits carry a buffer id), so userspace
// schemes take two from the top of that gap. The executor understands both;
// a kernel never sets them.

/**
 * A 64-bit result (Redox's extended completion): this CQE carries the low
 * 32 bits in `res`, and the CQE right after it, with the same user_data and
 * URING_CQE_F_EXTENDED_HI, carries the high 32 bits (signed). Producers post
 * the pair in one publication, so a consumer always sees both or neither.
 */
export const URING_CQE_F_EXTENDED = 1 << 15;
/** The second CQE of an extended pair. */
export const URING_CQE_F_EXTENDED_HI = 1 << 14;
/**
 * The op never completed because the scheme worker running it died; `res`
 * is -ECANCELED. The executor rejects the whole job with ERR_URING_WORKER_DIED.
 */
export const URING_CQE_F_PEER_DIED = 1 << 13;

/** All userspace-only bits, for the executor's garbage check. */
export const URING_CQE_USER_FLAGS = URING_CQE_F_EXTENDED | URING_CQE_F_EXTENDED_HI | URING_CQE_F_PEER_DIED;
