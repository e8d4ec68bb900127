// Assertions that guard invariants (TigerBeetle style): a failed one is a
// bug in uring, never a user error, so it throws a plain Error that names
// the invariant rather than returning an errno. Bottom layer: imports nothing.

export function assert(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`uring: invariant violated: ${what}`);
}
