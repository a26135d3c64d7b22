/**
 * The bench harness in smoke mode (tiny corpus, one repeat, whatever contenders this machine has): it must
 * produce a result table with a row per contender and ratios, so the harness never rots. Numbers are not checked.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import type { BenchResult } from "../../bench/lib/results.js"
import { nginxBinary } from "../../bench/lib/nginx.js"
import { workloads } from "../../bench/lib/workloads.js"

const repoRoot = resolve(import.meta.dirname, "../..")
const hasNginx = nginxBinary() !== undefined
if (!hasNginx) console.warn("bench smoke test skipped: nginx is not installed (bash scripts/system-deps.sh installs it)")

describe.skipIf(!hasNginx)("bench harness (smoke)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "cargohold-bench-smoke-"))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it("runs every contender on a tiny corpus and writes tables with ratios", { timeout: 58_000 }, async () => {
    const outDir = join(dataDir, "results")
    await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "bench/main.ts", "--smoke", "--data", dataDir, "--out", outDir],
      { cwd: repoRoot, timeout: 55_000, maxBuffer: 16 * 1024 * 1024 }
    )
    const result = JSON.parse(readFileSync(join(outDir, "latest.json"), "utf8")) as BenchResult
    const markdown = readFileSync(join(outDir, "latest.md"), "utf8")
    expect(result.smoke).toBe(true)
    expect(result.machine.nproc).toBeGreaterThan(0)
    // smoke runs workload 1 only (2 and 3 are the same machinery on other corpora; 4 is the catalog bench)
    for (const workload of workloads(true).filter((w) => w.group === "1")) {
      const got = result.workloads.find((w) => w.id === workload.id)
      expect(got, `workload ${workload.id}`).toBeDefined()
      expect(got!.rows.map((r) => r.contender).sort()).toEqual([...workload.contenders].sort())
      const reference = got!.rows.find((r) => r.contender === workload.reference)!
      expect(reference.status).toBe("ok")
      expect(reference.speedVsReference).toBe(1)
      for (const row of got!.rows.filter((r) => r.status === "ok")) {
        expect(row.runs.length, row.contender).toBe(1)
        expect(Number.isFinite(row.speedVsReference), row.contender).toBe(true)
        expect(row.medianRssMiB, row.contender).toBeGreaterThan(0)
      }
      // a contender either ran or says why not: no failures on a healthy machine
      for (const row of got!.rows) expect(row.status, `${workload.id} ${row.contender}: ${row.note}`).not.toBe("failed")
      expect(markdown).toContain(`### Workload ${workload.id}:`)
    }
    expect(markdown).toMatch(/\| contender \| median wall \| throughput \| speed vs undici \|/)
    expect(result.goals.length).toBeGreaterThan(0)
    expect(existsSync(join(dataDir, "scratch"))).toBe(false)
  })
})
