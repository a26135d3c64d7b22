/**
 * Workload 4: benches other engineers own (the catalog bench), run as they are and quoted verbatim.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { measure } from "./measure.js"
import type { ExtraSection } from "./results.js"

const catalogTimeoutMs = 15 * 60_000

/** `catalogN` passes `--n N` to the catalog bench (its default is 1,000,000 records). */
export const runExtras = async (repoRoot: string, dataDir: string, catalogN?: number): Promise<Array<ExtraSection>> => {
  const script = join(repoRoot, "bench/catalog.ts")
  const title = `Workload 4: catalog bench (bench/catalog.ts${catalogN !== undefined ? ` --n ${catalogN}` : ""})`
  if (!existsSync(script)) return [{ title, status: "unavailable", output: "bench/catalog.ts does not exist yet" }]
  const logDir = join(dataDir, "logs", "4")
  mkdirSync(logDir, { recursive: true })
  const args = catalogN !== undefined ? ["--n", String(catalogN)] : []
  console.error(`[bench] workload 4: npx tsx bench/catalog.ts ${args.join(" ")}`)
  const outcome = await measure({ argv: ["npx", "tsx", script, ...args], cwd: repoRoot }, logDir, "catalog", catalogTimeoutMs)
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
