import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

// The native layers are declared once, by the alp_layer() calls in CMakeLists.txt (OWNS: the
// directories or files of native/ a layer holds; USES: the layers below it). This test reads those
// calls and checks every quoted #include in native/ against them, and then asks the compiler, with a
// real build's include roots, to reject an upward include.

interface Layer {
  name: string;
  owns: string[];
  uses: string[];
}

const cmake = readFileSync('CMakeLists.txt', 'utf8').replace(/#.*$/gm, '');

// Every value a variable can take in any configuration (cuda and tensorrt on: the widest graph).
function variableValues(name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(String.raw`(?:set|list\s*\(\s*APPEND)\s*\(?\s*${name}\s+([^)]*)\)`, 'g');
  for (const m of cmake.matchAll(re)) out.push(...m[1]!.split(/\s+/).filter(Boolean));
  return out;
}
function expand(tokens: string[]): string[] {
  return tokens.flatMap((tok) => {
    const v = /^\$\{(\w+)\}$/.exec(tok);
    return v ? expand(variableValues(v[1]!)) : [tok];
  });
}

function parseLayers(): Map<string, Layer> {
  const layers = new Map<string, Layer>();
  for (const m of cmake.matchAll(/alp_layer\(\s*(\w+)\s+([^)]*)\)/g)) {
    const words = m[2]!.split(/\s+/).filter(Boolean);
    const layer: Layer = { name: m[1]!, owns: [], uses: [] };
    let into: string[] | null = null;
    for (const w of words) {
      if (w === 'OWNS') into = layer.owns;
      else if (w === 'USES') into = layer.uses;
      else into?.push(w);
    }
    layer.uses = expand(layer.uses);
    layers.set(layer.name, layer);
  }
  return layers;
}

const layers = parseLayers();

// Layers reachable through USES, the layer itself excluded.
function below(name: string, seen = new Set<string>()): Set<string> {
  for (const u of layers.get(name)?.uses ?? []) {
    if (layers.has(u) && !seen.has(u)) {
      seen.add(u);
      below(u, seen);
    }
  }
  return seen;
}

// The layer owning a path under native/ (longest OWNS prefix), or undefined.
function ownerOf(path: string): string | undefined {
  let best: { name: string; len: number } | undefined;
  for (const l of layers.values())
    for (const o of l.owns)
      if ((path === o || path.startsWith(`${o}/`)) && (!best || o.length > best.len)) best = { name: l.name, len: o.length };
  return best?.name;
}

// native/third_party/ holds vendored code (cudnn-frontend, header-only, reached as a SYSTEM include by
// the CUDA layer only): not ours, so no layer owns it and its own includes are not checked.
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return p === join('native', 'third_party') ? [] : sources(p);
    return /\.(cpp|hpp|cu|cuh|h)$/.test(e.name) ? [p] : [];
  });
}

t.test('CMakeLists.txt declares an acyclic layer graph', async (t) => {
  for (const want of ['alpamayo_core', 'alpamayo_model', 'alpamayo_cpu', 'alpamayo_cuda', 'alpamayo_trt_runner', 'alpamayo_export', 'alpamayo_backends', 'alpamayo_trt', 'alpamayo_native_tests'])
    t.ok(layers.has(want), `alp_layer(${want} ...) is declared`);
  for (const l of layers.values()) {
    t.notOk(below(l.name).has(l.name), `${l.name} does not use itself through a cycle`);
    for (const u of l.uses.filter((u) => u.startsWith('alpamayo_'))) t.ok(layers.has(u), `${l.name} uses a declared layer ${u}`);
  }
  // The order the brief states: core -> model -> backends -> pipeline/export -> napi.
  t.same([...below('alpamayo_core')], [], 'core uses nothing');
  t.same([...below('alpamayo_model')], ['alpamayo_core'], 'model uses only core');
  t.notOk(below('alpamayo_cuda').has('alpamayo_cpu'), 'the CUDA executor does not use the CPU executor');
  t.notOk(below('alpamayo_trt_runner').has('alpamayo_backends'), 'the TensorRT runner does not use the pipeline');
});

t.test('every #include points at the same layer or one below it', async (t) => {
  const files = sources('native');
  t.ok(files.length > 150, `found the native sources (${files.length})`);
  const violations: string[] = [];
  for (const file of files) {
    const rel = relative('native', file);
    const own = ownerOf(rel);
    if (!own) {
      violations.push(`${rel}: no layer OWNS it`);
      continue;
    }
    const allowed = below(own);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const inc = m[1]!;
      const target = ownerOf(inc);
      if (!target) violations.push(`${rel}: #include "${inc}" is not under a layer's directory (use the native/-relative path)`);
      else if (target !== own && !allowed.has(target)) violations.push(`${rel} (${own}): #include "${inc}" reaches up into ${target}`);
    }
  }
  t.same(violations, [], 'no upward or unowned include');
});

// The build's own include roots (build/layer-include/<layer>/) make an upward include a compile error.
const buildDir = ['build-cmake-cpu', 'build-cmake', 'build-cmake-cuda'].find((d) => existsSync(join(d, 'layer-include', 'alpamayo_model')));
const cxx = spawnSync('c++', ['--version']).status === 0 ? 'c++' : undefined;
t.test('the compiler rejects an upward include with the build include paths', { skip: !buildDir ? 'no configured build dir (run npm run build:native)' : !cxx ? 'no c++ on PATH' : false }, async (t) => {
  const roots = (layer: string) => [layer, ...below(layer)].map((l) => `-I${join(buildDir!, 'layer-include', l)}`);
  const dir = mkdtempSync(join(tmpdir(), 'alpamayo-layers-'));
  try {
    const compile = (layer: string, include: string) => {
      const src = join(dir, 'probe.cpp');
      writeFileSync(src, `#include "${include}"\nint main() { return 0; }\n`);
      return spawnSync(cxx!, ['-std=c++20', '-fsyntax-only', ...roots(layer), src], { encoding: 'utf8' });
    };
    const down = compile('alpamayo_model', 'core/error.hpp');
    t.equal(down.status, 0, `model may include core (${down.stderr})`);
    for (const [layer, include] of [
      ['alpamayo_model', 'pipeline/planner.hpp'],
      ['alpamayo_model', 'backends/cpu/cpu_ops.hpp'],
      ['alpamayo_core', 'model/ops.hpp'],
      ['alpamayo_cpu', 'export/onnx_ops.hpp'],
    ] as const) {
      const up = compile(layer, include);
      t.not(up.status, 0, `${layer} including "${include}" does not compile`);
      t.match(up.stderr, /No such file or directory/, 'because the header is not on its include path');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
