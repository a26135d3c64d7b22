/**
 * Issue 7's and issue 12's goals, checked on the same run's medians.
 */
import type { Goal, Row, WorkloadResult } from "./results.js"
import { round } from "./stats.js"

const okRow = (w: WorkloadResult | undefined, id: string): Row | undefined =>
  w?.rows.find((r) => r.contender === id && r.status === "ok" && r.runs.length > 0)

const ratioGoal = (goal: string, ratio: number | undefined, holds: (r: number) => boolean): Goal =>
  ratio === undefined || !Number.isFinite(ratio)
    ? { goal, actual: "n/a (a contender did not run)", met: null }
    : { goal, actual: `${round(ratio, 2)}×`, met: holds(ratio) }

/** `a` relative to `b` in throughput (same work): b's wall ÷ a's wall. */
const speedup = (a: Row | undefined, b: Row | undefined) =>
  a !== undefined && b !== undefined ? b.medianWallS / a.medianWallS : undefined

export const checkGoals = (results: ReadonlyArray<WorkloadResult>): Array<Goal> => {
  const byId = (id: string) => results.find((w) => w.id === id)
  const goals: Array<Goal> = []
  for (const who of ["cargohold-lib", "cargohold-cli"]) {
    const w1 = byId("1")
    if (w1?.rows.some((r) => r.contender === who)) {
      const me = okRow(w1, who)
      goals.push(ratioGoal(`W1 ${who} ≥ 0.8× raw undici (files/s)`, speedup(me, okRow(w1, "undici")), (r) => r >= 0.8))
      goals.push(ratioGoal(`W1 ${who} ≥ 0.8× pulpcore's loop (files/s)`, speedup(me, okRow(w1, "pulpcore-aiohttp")), (r) => r >= 0.8))
      goals.push(ratioGoal(`W1 ${who} ≥ 4× aria2c (files/s)`, speedup(me, okRow(w1, "aria2c")), (r) => r >= 4))
      goals.push(ratioGoal(`W1 ${who} ≥ 4× make-fetch-happen (files/s)`, speedup(me, okRow(w1, "mfh")), (r) => r >= 4))
      goals.push(ratioGoal(`W1 ${who} CPU (user+sys) ≤ 1.5× raw undici's`, me?.cpuVsReference, (r) => r <= 1.5))
    }
    const w2 = byId("2")
    if (w2?.rows.some((r) => r.contender === who)) {
      const me = okRow(w2, who)
      const curlO = okRow(w2, "curl-o")
      const wallRatio = me !== undefined && curlO !== undefined ? me.medianWallS / curlO.medianWallS : undefined
      goals.push(ratioGoal(`W2 ${who} wall ≤ 1.25× curl -o`, wallRatio, (r) => r <= 1.25))
      goals.push(
        me === undefined
          ? { goal: `W2 ${who} peak RSS ≤ 120 MiB`, actual: "n/a", met: null }
          : { goal: `W2 ${who} peak RSS ≤ 120 MiB`, actual: `${me.medianRssMiB} MiB`, met: me.medianRssMiB <= 120 }
      )
    }
    const w3 = byId("3")
    if (w3?.rows.some((r) => r.contender === who)) {
      const me = okRow(w3, who)
      const fifth = okRow(byId("3a"), who)
      goals.push(
        me === undefined
          ? { goal: `W3 ${who} peak RSS ≤ 300 MiB`, actual: "n/a", met: null }
          : { goal: `W3 ${who} peak RSS ≤ 300 MiB`, actual: `${me.medianRssMiB} MiB`, met: me.medianRssMiB <= 300 }
      )
      const growth = me !== undefined && fifth !== undefined ? me.medianRssMiB / fifth.medianRssMiB : undefined
      goals.push(
        ratioGoal(`W3 ${who} peak RSS flat: 5× the artifacts ≤ 1.2× the RSS`, growth, (r) => r <= 1.2)
      )
    }
  }
  // issue 13: one large file from servers that cap each connection, with its defaults (segments)
  for (const id of ["5", "5m"]) {
    const w = byId(id)
    if (w === undefined) continue
    const me = okRow(w, "cargohold-one")
    const what = id === "5" ? "W5 (limit_rate 16m)" : "W5m (mirrors 2m + 16m)"
    goals.push(ratioGoal(`${what} cargohold ≥ 5× curl -o`, speedup(me, okRow(w, "curl-o")), (r) => r >= 5))
    goals.push(ratioGoal(`${what} cargohold ≥ 0.9× aria2c -x8 -s8`, speedup(me, okRow(w, "aria2c-x8")), (r) => r >= 0.9))
  }
  return goals
}
