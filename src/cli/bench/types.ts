// Types shared by the harness (parent process) and the peer scripts (children).
// This module and common.ts import nothing but node built-ins, so a peer script
// runs unchanged under Bun.

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5';
export const WORKLOAD_IDS: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5'];

export interface WorkloadInfo {
  id: WorkloadId;
  title: string;
  unit: string;
  /** Multiply (count / seconds) by this to get `unit`. */
  scale: number;
  /** impl name of the peer that ratios are computed against. */
  baseline: string;
}

export const WORKLOADS: Record<WorkloadId, WorkloadInfo> = {
  W1: { id: 'W1', title: 'random 4 KiB reads, page-cached file, 64 in flight', unit: 'ops/s', scale: 1, baseline: 'fs.promises' },
  W2: { id: 'W2', title: 'read many 4 KiB files, 64 in flight', unit: 'files/s', scale: 1, baseline: 'fs.promises' },
  W3: { id: 'W3', title: 'NOP round trips, promise per op', unit: 'ops/s', scale: 1, baseline: 'C batched NOPs' },
  W4: { id: 'W4', title: 'worker round trips, 64 in flight', unit: 'round trips/s', scale: 1, baseline: 'postMessage echo' },
  W5: { id: 'W5', title: 'sequential copy of one file', unit: 'MB/s', scale: 1e-6, baseline: 'fs.copyFile' },
};

/** Parameters the harness hands to a peer (JSON on the child's command line). */
export interface Params {
  workload: WorkloadId;
  /** the variant's impl name, so one script can serve several variants */
  impl: string;
  depth: number;
  durationMs: number;
  /** W1: the data file; W5: the source file */
  file: string;
  size: number;
  /** W2: root dir, layout, list file for the C reference, expected checksum */
  root: string;
  dirs: number;
  perDir: number;
  listFile: string;
  expectSum: number;
  /** W5: destination path (the peer removes it when done) */
  dst: string;
}

export interface Check {
  ok: boolean;
  detail: string;
}

/** What a peer reports: one JSON line on the child's stdout. */
export type Outcome =
  | { count: number; ns: number; check: Check }
  | { skipped: string };

export interface Variant {
  /** name shown in the table; unique within the workload */
  impl: string;
  /** sort key within the workload (baseline first, natives last) */
  order: number;
  runtime?: 'node' | 'bun';
  /** extra environment for the child */
  env?: Record<string, string>;
  /** reason this variant cannot run here, or null */
  available?(ctx: HarnessCtx): Promise<string | null> | string | null;
}

/** A command line for a peer that is not a JS script (fio, a C binary). */
export interface Command {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  parse(stdout: string, p: Params): Outcome;
}

/**
 * A peer module: every file in bench/peers/ exports `peer: PeerModule`.
 * Either `run` (executed inside a child process by child.ts) or `command`
 * (an external program) must be present.
 */
export interface PeerModule {
  workload: WorkloadId;
  variants: Variant[];
  run?(p: Params): Promise<Outcome>;
  command?(ctx: HarnessCtx, p: Params): Promise<Command>;
}

/** Tools the harness found on this machine; given to `available` and `command`. */
export interface HarnessCtx {
  quick: boolean;
  pkgRoot: string;
  bun: string | null;
  bunWhy: string;
  fio: string | null;
  fioWhy: string;
  /** path of the compiled C reference, or an Error saying why there is none */
  cBinary(name: string): Promise<string | Error>;
  /** null if libuv in this Node can use io_uring for fs when UV_USE_IO_URING=1 */
  uvIoUringWhy: string | null;
}
