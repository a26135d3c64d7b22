/**
 * Workload 4: benches other engineers own (the catalog bench), run as they are and quoted verbatim.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { measure } from "./measure.js"
import type { ExtraSection } from "./results.js"

const catalogTimeoutMs = 15 * 60_000

export const runExtras = async (repoRoot: string, dataDir: string): Promise<Array<ExtraSection>> => {
  const script = join(repoRoot, "bench/catalog.ts")
  const title = "Workload 4: catalog bench (bench/catalog.ts)"
  if (!existsSync(script)) return [{ title, status: "unavailable", output: "bench/catalog.ts does not exist yet" }]
  const logDir = join(dataDir, "logs", "4")
  mkdirSync(logDir, { recursive: true })
  console.error("[bench] workload 4: npx tsx bench/catalog.ts")
  const outcome = await measure({ argv: ["npx", "tsx", script], cwd: repoRoot }, logDir, "catalog", catalogTimeoutMs)
  const stdout = readFileSync(join(logDir, "catalog.stdout"), "utf8")
  if (outcome._tag === "failed") return [{ title, status: "failed", output: `${outcome.detail}\n${stdout}` }]
  const m = outcome.measurement
  return [
    {
      title,
      status: "ok",
      output: `${stdout.trim()}\n\n(whole process: ${m.wallS.toFixed(2)} s wall, peak RSS ${m.maxRssMiB.toFixed(0)} MiB)`
    }
  ]
}
