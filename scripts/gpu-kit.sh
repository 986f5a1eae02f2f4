#!/usr/bin/env bash
# Prepares .gpu-kit/ for scripts/gpu-check.sh on a bare lent GPU machine (no node, no npm, no network):
# this machine's node binary and the few runtime node modules, xz-compressed, plus dist/ (built here).
# The folder is listed in .git/info/exclude so it travels only when a device `run` names it in carry.
#   bash scripts/gpu-kit.sh      (after npm install; builds dist/ with npm run build:ts)
set -euo pipefail
cd "$(dirname "$0")/.."
kit=.gpu-kit
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF "/$kit/" "$exclude" 2>/dev/null || echo "/$kit/" >>"$exclude"
rm -rf "$kit" && mkdir -p "$kit"
npm run -s build:ts
node_bin="$(readlink -f "$(command -v node)")"
tmp="$(mktemp -d)"
mkdir -p "$tmp/node/bin" && cp "$node_bin" "$tmp/node/bin/node"
tar -C "$tmp/node" -cJf "$kit/node.tar.xz" bin
# Runtime and build-time modules only (the full node_modules is ~150 MB; the device tool carries 64 MiB).
tar -cJf "$kit/node_modules.tar.xz" node_modules/node-api-headers node_modules/node-addon-api node_modules/node-gyp-build \
  node_modules/@huggingface
tar -cJf "$kit/dist.tar.xz" dist
rm -rf "$tmp"
echo "gpu-kit: $(du -sh "$kit" | cut -f1) in $kit ($(node --version)); carry it with: \"carry\": [\"$kit\"]"
