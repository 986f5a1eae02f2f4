#!/usr/bin/env bash
# The prepared GPU check of issue 16 (`npm run gpu:check`): one command that, on a bare lent H200,
#   1. builds the addon, the native tests and the CUDA bench for sm_90 only, with cuBLASLt and cuDNN
#      from the machine's own nvidia-cublas / nvidia-cudnn-cu13 wheels (its python3's site-packages);
#   2. runs every CUDA native test (names containing cuda, the op conformance table's CUDA rows included)
#      and fails if any of them is skipped;
#   3. runs the CUDA real-shape benchmark (bench/cuda_layers.cpp: one ViT block, backbone layer and
#      expert layer per precision, extrapolated per-stage ms, TFLOP/s and GB/s against H200 peaks);
#   4. checks CPU-vs-CUDA plan parity on the tiny and small checkpoints (scripts/gpu-parity.mjs);
#   5. runs compute-sanitizer memcheck on the graph tests and the device token selection, and
#      racecheck/synccheck on the selection kernel's shared-memory reductions;
# and writes gpu-check.json, gpu-check.md and the logs to $OUT, inside a 9-minute budget (each step
# gets what is left; one that cannot start in time is recorded as not run, and the check fails).
# Node is not on that machine: it comes from .gpu-kit/ (bash scripts/gpu-kit.sh here, carried).
# Without a GPU (any developer machine, CI) it says so and exits 0: nothing to check.
set -uo pipefail
set -m  # background steps get their own process group (see step)
cd "$(dirname "$0")/.."
root="$PWD"
start=$(date +%s)
budget=${GPU_CHECK_BUDGET_S:-530}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  why="no NVIDIA GPU: $(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>&1 | head -1 || echo 'nvidia-smi not found')"
  echo "gpu:check: $why; nothing to check here (run it on a lent GPU machine, see bench/README.md)"
  exit 0
fi

out="${OUT:-$root/gpu-check-out}"
mkdir -p "$out"
log="$out/gpu-check.log"
steps="$out/.steps.tsv"
: >"$log"
: >"$steps"
say() { echo "[$(($(date +%s) - start))s] $*" | tee -a "$log"; }
left() { echo $((budget - ($(date +%s) - start))); }
# step NAME MIN_SECONDS CMD...: runs CMD with the time left (at most), records status and seconds.
failed=0
step() {
  local name=$1 need=$2
  shift 2
  local l
  l=$(left)
  if ((l < need)); then
    say "$name: NOT RUN (${l}s left, needs ~${need}s)"
    printf '%s\tnot run\t0\t%s\n' "$name" "out of time" >>"$steps"
    failed=1
    return 1
  fi
  say "$name: start (${l}s left)"
  local t0 rc pid waited=0
  t0=$(date +%s)
  # In the background as its own process group (set -m), so a step past the time left is stopped
  # with everything it started (cmake, nvcc, the tests); steps are shell functions, which `timeout`
  # cannot run.
  "$@" >>"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= l)); then
      say "$name: out of time after ${waited}s, stopping it"
      kill -TERM -- "-$pid" 2>/dev/null
      sleep 3
      kill -KILL -- "-$pid" 2>/dev/null
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  wait "$pid"
  rc=$?
  local dt=$(($(date +%s) - t0))
  if ((rc == 0)); then
    printf '%s\tok\t%s\t\n' "$name" "$dt" >>"$steps"
    say "$name: ok (${dt}s)"
  else
    printf '%s\tfailed\t%s\texit %s\n' "$name" "$dt" "$rc" >>"$steps"
    say "$name: FAILED (exit $rc, ${dt}s)"
    failed=1
  fi
  return $rc
}

say "gpu:check on $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
nvidia-smi >>"$log" 2>&1

# ---- node from the kit --------------------------------------------------------------------------
kit="$root/.gpu-kit"
setup_node() {
  [ -f "$kit/node.tar.xz" ] || { echo "missing $kit/node.tar.xz: run 'bash scripts/gpu-kit.sh' here and carry .gpu-kit"; return 1; }
  mkdir -p /tmp/gpu-node && tar -xJf "$kit/node.tar.xz" -C /tmp/gpu-node &&
    tar -xJf "$kit/node_modules.tar.xz" -C "$root" && tar -xJf "$kit/dist.tar.xz" -C "$root" &&
    /tmp/gpu-node/bin/node --version
}
step node 5 setup_node
export PATH="/tmp/gpu-node/bin:$PATH"

# ---- build, sm_90 only ---------------------------------------------------------------------------
wheels="$(python3 -c 'import nvidia, os, sys
for p in nvidia.__path__:
    if os.path.isdir(os.path.join(p, "cu13")) or os.path.isdir(os.path.join(p, "cudnn")):
        sys.stdout.write(p); break' 2>/dev/null)"
say "NVIDIA wheels: ${wheels:-none found (fallbacks only)}"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
build() {
  cmake -S "$root" -B "$root/build-gpu" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DALPAMAYO_CUDA=ON -DALPAMAYO_CUDA_ARCHS=90 \
    -DALPAMAYO_CUBLASLT=ON -DALPAMAYO_CUDNN=ON -DALPAMAYO_NVIDIA_WHEELS="$wheels" \
    "-DCMAKE_JS_INC=$root/node_modules/node-api-headers/include;$root/node_modules/node-addon-api" &&
    cmake --build "$root/build-gpu" -j "$(nproc)"
}
step build 60 build
bin="$root/build-gpu/Release"
export ALPAMAYO_TRT_NATIVE="$bin/alpamayo_trt.node"

# ---- every CUDA test, no skips -------------------------------------------------------------------
cuda_tests() {
  "$bin/alpamayo_native_tests" cuda | tee "$out/native-tests.log"
  local rc=${PIPESTATUS[0]}
  # The harness prints "skip <case>: <reason>" and a "N passed, N skipped, N failed" summary. The op
  # conformance table's CUDA registration (ops_conformance_cuda) matches the filter too, and so do the
  # device token selection cases (cuda_select_tokens_*, cuda_executor_selects_tokens_on_the_device_like_cpu).
  if grep -q '^skip ' "$out/native-tests.log"; then
    echo "gpu:check: skipped CUDA tests on a GPU machine:"
    grep '^skip ' "$out/native-tests.log"
    return 3
  fi
  return "$rc"
}
step cuda-tests 20 cuda_tests

# ---- real-shape benchmark --------------------------------------------------------------------------
bench() { "$bin/alpamayo_cuda_bench" --json "$out/bench.json" --md "$out/bench.md" --precisions bf16,fp8; }
step bench 60 bench

# ---- plan parity, CPU vs CUDA --------------------------------------------------------------------
step parity 30 node "$root/scripts/gpu-parity.mjs" "$out/parity.json"

# ---- compute-sanitizer memcheck on the graph tests ------------------------------------------------
sanitize() {
  local rc=0
  for f in cuda_denoise_graph cuda_gemm_scratch cuda_two_planners cuda_cudnn_attention cuda_lanes cuda_select_tokens_shared \
    cuda_select_tokens_errors; do
    compute-sanitizer --tool memcheck --error-exitcode 3 --print-limit 20 "$bin/alpamayo_native_tests" "$f" || rc=$?
  done
  # The selection kernel reuses one shared-memory slot array for every reduction: races or a
  # divergent barrier there would show here (three sampled lanes over the real vocabulary, every
  # reduction of the top-p search included; and the early exits of the error cases).
  for tool in racecheck synccheck; do
    for f in cuda_select_tokens_shared cuda_select_tokens_errors; do
      compute-sanitizer --tool "$tool" --error-exitcode 3 --print-limit 20 "$bin/alpamayo_native_tests" "$f" || rc=$?
    done
  done
  return $rc
}
command -v compute-sanitizer >/dev/null || PATH="$PATH:/usr/local/cuda/bin"
step sanitizer 30 sanitize

# ---- report ----------------------------------------------------------------------------------------
python3 - "$out" "$steps" "$(($(date +%s) - start))" "$failed" <<'PY'
import json, os, sys
out, steps_path, total, failed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
steps = []
for line in open(steps_path):
    name, status, secs, detail = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
    steps.append({"step": name, "status": status, "seconds": int(secs or 0), "detail": detail})
def load(name):
    p = os.path.join(out, name)
    try:
        return json.load(open(p))
    except Exception:
        return None
report = {"ok": not failed, "total_seconds": total, "steps": steps, "bench": load("bench.json"), "parity": load("parity.json")}
tests = os.path.join(out, "native-tests.log")
if os.path.exists(tests):
    lines = open(tests).read().splitlines()
    report["native_tests"] = {"summary": next((l for l in lines if " passed, " in l), None),
                              "failed": [l[7:] for l in lines if l.startswith("not ok ")]}
json.dump(report, open(os.path.join(out, "gpu-check.json"), "w"), indent=2)
md = [f"# gpu:check ({'PASS' if not failed else 'FAIL'}, {total} s)", "", "| step | status | s | detail |", "|---|---|---:|---|"]
md += [f"| {s['step']} | {s['status']} | {s['seconds']} | {s['detail']} |" for s in steps]
if report.get("native_tests"):
    md += ["", f"Native CUDA tests: {report['native_tests']['summary']}; failed: {report['native_tests']['failed'] or 'none'}"]
if report["parity"]:
    md += ["", "## Plan parity (CPU vs CUDA)", "", "| preset | precision | tokens identical | max waypoint diff (m) | asserted | ok |", "|---|---|---|---:|---|---|"]
    md += [f"| {r['preset']} | {r['precision']} | {r['tokensEqual']} | {r['maxWaypointDiffM']:.2e} | {r['asserted']} | {r['ok']} |" for r in report["parity"]["results"]]
bench_md = os.path.join(out, "bench.md")
if os.path.exists(bench_md):
    md += ["", open(bench_md).read()]
open(os.path.join(out, "gpu-check.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
rm -f "$steps" "$out/bench.md"
say "gpu:check: $([ $failed = 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - start)) s; reports in $out"
exit $failed
