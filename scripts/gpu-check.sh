#!/usr/bin/env bash
# One command for a GPU host: does Aegle really run its models on CUDA? Installs nothing.
# See scripts/gpu-check.ts for what it checks and docs/gpu.md for installing the CUDA provider.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/onnxruntime-node ]; then
  echo "gpu-check: run npm ci first" >&2
  exit 2
fi
exec node -r @swc-node/register scripts/gpu-check.ts "$@"
