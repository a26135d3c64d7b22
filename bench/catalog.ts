/**
 * Catalog bench (issue 4): bulk recording of N artifacts in batches, then median lookup by digest, on SQLite and
 * PostgreSQL. usage: npx tsx bench/catalog.ts [--n 1000000] [--batch 10000] [--lookups 20000] [--only sqlite,pg] [--cache-mib 32]
 * Runs bench/catalog-run.ts against the sources (bench/tsconfig.json paths), so no build is needed.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const run = fileURLToPath(new URL("./catalog-run.ts", import.meta.url))
const result = spawnSync(process.execPath, ["--import", "tsx", run, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, TSX_TSCONFIG_PATH: fileURLToPath(new URL("./tsconfig.json", import.meta.url)) }
})
process.exitCode = result.status ?? 1
