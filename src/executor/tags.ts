// The tag table: what a CQE's user_data may name. A tag is a slot (the low
// 32 bits) and that slot's generation (the high 32); each SQE in flight owns
// one slot. Freeing a slot bumps its generation, so a late or forged CQE
// carrying an old tag finds a generation mismatch and is ignored, never a
// job that reused the slot (S6). Tags are never pointers.

import type { Job } from './job.js';

const GEN_LIMIT = 0x100000000;
/** Marks, in `members`, an SQE that posts a CQE only on failure (CQE_SKIP_SUCCESS). */
export const SKIP_BIT = 1 << 30;
/** Marks, in `members`, an SQE soft-linked (IOSQE_IO_LINK, not HARDLINK) to the next. */
export const SOFT_BIT = 1 << 29;
/** The SQE's index within its job, in `members`. */
export const MEMBER_MASK = SOFT_BIT - 1;

export class Tags {
  /** The job each slot belongs to; null when free. */
  readonly owners: (Job | null)[] = [];
  /** Per slot: the SQE's index in its job, plus SKIP_BIT and SOFT_BIT. */
  members = new Int32Array(0);
  /** Per slot: the generation its next tag carries. */
  gens = new Uint32Array(0);
  private readonly free: number[] = [];

  /** Takes a slot for member `member` of `job`. */
  alloc(job: Job, member: number): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.owners.length;
      this.owners.push(null);
      if (slot >= this.gens.length) this.grow(slot + 1);
    }
    this.owners[slot] = job;
    this.members[slot] = member;
    return slot;
  }

  /** Frees every slot of `job`. */
  release(job: Job): void {
    for (let k = 0; k < job.size; k++) this.releaseSlot(job.slotAt(k));
  }

  private releaseSlot(slot: number): void {
    this.owners[slot] = null;
    // A new generation makes any late CQE for the old tag stale.
    this.gens[slot] = (this.gens[slot]! + 1) % GEN_LIMIT;
    this.free.push(slot);
  }

  private grow(min: number): void {
    const size = Math.max(min, this.gens.length * 2, 256);
    const gens = new Uint32Array(size);
    gens.set(this.gens);
    // Start each new slot at a random generation so tags differ across rings.
    for (let i = this.gens.length; i < size; i++) gens[i] = (Math.random() * GEN_LIMIT) >>> 0;
    const members = new Int32Array(size);
    members.set(this.members);
    this.gens = gens;
    this.members = members;
  }
}
