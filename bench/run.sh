#!/usr/bin/env bash
# `npm run bench [-- flags]`: build the workspace, install the Debian tools when missing, run the harness.
# Flags (see bench/lib/args.ts): --workload 1,2,3,4  --repeats N  --only curl,undici  --smoke  --out DIR  --data DIR
# --no-build skips `npm run build` (the smoke test uses it; the suite builds first).
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for arg in "$@"; do
  if [[ $arg == --no-build ]]; then build=0; else args+=("$arg"); fi
done
if ((build)); then
  echo "[bench] npm run build" >&2
  npm run build >&2 || echo "[bench] warning: the build failed; cargohold rows will say 'not available' where dist is missing" >&2
fi
bash scripts/system-deps.sh >&2
exec node --import tsx bench/main.ts "${args[@]}"
