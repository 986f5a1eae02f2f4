#!/usr/bin/env bash
# Syntax-checks the TensorRT runner against real TensorRT headers (no TensorRT is installed in CI):
#   scripts/trt-syntax-check.sh /path/to/TensorRT-10.16/include [/path/to/TensorRT-11.1/include ...]
# Each argument is an `include/` directory of NVIDIA/TensorRT (e.g. `git archive release/10.16 include`).
# Also checks that the fake runtime's test-only declarations (native/tests/fake_trt/fake_nvinfer_api.hpp) declare the
# runner's nvinfer1 subset with these headers' types. Exits non-zero on the first header set with a compile error.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda_inc="${CUDA_HOME:-/usr/local/cuda}/include"
[ $# -ge 1 ] || { echo "usage: $0 TENSORRT_INCLUDE_DIR..." >&2; exit 2; }
for inc in "$@"; do
  for f in native/backends/trt/*.cpp; do
    g++ -std=c++20 -fsyntax-only -Wall -Wextra -isystem "$inc" -isystem "$cuda_inc" -Inative "$f"
  done
  echo "ok: native/backends/trt against $inc"
  # The test-only nvinfer1 headers of the fake runtime (native/tests/fake_trt) must declare what these do.
  if [ -f native/tests/fake_trt/signature_check.cpp ]; then
    g++ -std=c++20 -fsyntax-only -Wall -Wextra -isystem "$inc" -isystem "$cuda_inc" -Inative native/tests/fake_trt/signature_check.cpp
    echo "ok: native/tests/fake_trt/fake_nvinfer_api.hpp declares the runner's nvinfer1 subset as $inc does"
  fi
done
