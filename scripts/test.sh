#!/usr/bin/env bash
# The whole test suite, install included: `bash scripts/test.sh` (also `npm test`, and what .ci/run calls).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "system packages"
bash scripts/system-deps.sh

step "npm ci"
# skipped when node_modules already is what the lockfile says (npm's record of its last install agrees with it)
if node scripts/installed-matches-lock.mjs; then
  echo "node_modules matches package-lock.json: nothing to install" >&2
else
  npm ci --no-audit --no-fund
fi

step "build"
npm run build

step "type-check (tsc --noEmit, strict)"
npx tsc -p test --noEmit
npx tsc -p bench --noEmit

step "lint (biome)"
npm run lint

step "PostgreSQL"
if ! node scripts/check-postgres.mjs; then
  echo "PostgreSQL is not reachable at ${CARGOHOLD_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test}; the catalog suite needs it." >&2
  exit 1
fi

step "tests (vitest)"
report=$(mktemp -t cargohold-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# one plain closing line that any CI reader understands
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)
' "$report" 2>/dev/null || true
exit "$status"
