// The architecture, enforced: layers only import downward. The order is
// written once, here (docs/architecture.md explains each layer). A file in
// a layer may import from its own layer and the layers above it in this
// list, never from one below it; every file under src/ must belong to a
// layer, so a new folder has to be placed before it can land.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bottom first. Each entry: layer name, then the paths (folders end in '/') it owns. */
const LAYERS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['abi', ['src/abi/', 'src/native.ts']],
  ['errors', ['src/errors.ts']],
  ['queues', ['src/queues/']],
  ['executor', ['src/executor/']],
  ['buffers', ['src/buffers/']],
  ['backends', ['src/backends/']],
  ['schemes', ['src/schemes/']],
  ['ring', ['src/ring/']],
  ['fs', ['src/fs/']],
  ['cli', ['src/cli/']],
  ['entry', ['src/index.ts']],
];

const repo = path.dirname(fileURLToPath(new URL('../../package.json', import.meta.url)));

function layerOf(rel: string): number {
  return LAYERS.findIndex(([, owns]) => owns.some((o) => (o.endsWith('/') ? rel.startsWith(o) : rel === o)));
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(repo, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Relative import specifiers of a file: static imports and re-exports (type-only too), and import(). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]!);
  return out;
}

function resolve(from: string, spec: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts');
}

test('every source file belongs to a layer', () => {
  const homeless = sources('src').filter((f) => layerOf(f) < 0);
  assert.deepEqual(homeless, [], 'place these in LAYERS (test/layers.test.ts) and docs/architecture.md');
});

test('layers only import downward', () => {
  const up: string[] = [];
  for (const file of sources('src')) {
    const mine = layerOf(file);
    for (const spec of importsOf(fs.readFileSync(path.join(repo, file), 'utf8'))) {
      const target = resolve(file, spec);
      const theirs = layerOf(target);
      if (theirs > mine) up.push(`${file} (${LAYERS[mine]![0]}) imports ${target} (${LAYERS[theirs]![0]})`);
    }
  }
  assert.deepEqual(up, []);
});

test('the check sees an upward import (it can fail)', () => {
  const file = 'src/executor/executor.ts';
  const target = resolve(file, importsOf("import { Ring } from '../ring/ring.js';")[0]!);
  assert.ok(layerOf(target) > layerOf(file));
  assert.deepEqual(importsOf("import type { A } from './a.js'; export { b } from '../b.js'; await import('./c.js');"), ['./a.js', '../b.js', './c.js']);
});
