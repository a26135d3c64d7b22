#!/usr/bin/env bash
# The cargohold demo on a fresh clone: `npm run demo` (or `bash scripts/demo.sh`).
# Sets up (npm ci when node_modules is missing, build), generates a local sample set, serves it on a free loopback
# port, mirrors it with live progress into a temporary CARGOHOLD_HOME (SQLite catalog + local store), fetches it again
# to show that nothing is requested twice, and shows `whereis` for one artifact. The server stops on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT="${DEMO_COUNT:-300}"
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

if [ ! -d node_modules ]; then
  say "npm ci (first run)"
  npm ci --no-audit --no-fund
fi
say "build"
npm run --silent build

WORK="$(mktemp -d "${TMPDIR:-/tmp}/cargohold-demo.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CARGOHOLD="node_modules/.bin/cargohold"
[ -x "$CARGOHOLD" ] || CARGOHOLD="node packages/cli/bin/cargohold.js"
export CARGOHOLD_HOME="$WORK/home"
unset CARGOHOLD_CATALOG CARGOHOLD_STORE

say "sample set"
node scripts/demo-samples.mjs "$WORK/www" "$COUNT" >&2

say "local HTTP server"
mkfifo "$WORK/port"
node scripts/demo-server.mjs "$WORK/www" >"$WORK/port" &
SERVER_PID=$!
read -r PORT <"$WORK/port"
BASE="http://127.0.0.1:$PORT"
sed "s#{BASE}#$BASE#" "$WORK/www/manifest.template" >"$WORK/manifest.txt"
stats() { node -e "fetch('$BASE/__stats').then(r => r.json()).then(s => console.log(s.requests))"; }
echo "serving $COUNT files at $BASE (pid $SERVER_PID); home: $CARGOHOLD_HOME" >&2
head -n 3 "$WORK/manifest.txt" >&2

say "cargohold fetch -i manifest.txt   (first run: everything is downloaded, verified, stored, catalogued)"
$CARGOHOLD fetch -i "$WORK/manifest.txt" >"$WORK/first.txt"
echo "server saw $(stats) requests; the first result lines (status, sha256, size, stored path, URL):" >&2
head -n 2 "$WORK/first.txt"

say "cargohold fetch -i manifest.txt --json   (second run: served from the store, no request)"
before="$(stats)"
$CARGOHOLD fetch -i "$WORK/manifest.txt" --json >"$WORK/second.jsonl"
after="$(stats)"
cached="$(grep -c '"cached":true' "$WORK/second.jsonl" || true)"
echo "$cached of $COUNT artifacts already stored; requests to the server during the second run: $((after - before))" >&2
head -n 2 "$WORK/second.jsonl"

say "cargohold whereis $BASE/files/large-3.iso"
$CARGOHOLD whereis "$BASE/files/large-3.iso"

say "cargohold verify --limit 20   (re-hash stored copies, oldest-verified first)"
$CARGOHOLD verify --limit 20

say "done: the server stops and $WORK is removed"
