/**
 * What Effect's combinators cost per artifact, cold and warm: N items, 64 at once, each one event-loop turn of
 * waiting (`setImmediate`) wrapped in one shape, CPU (user+sys) per item. Each shape and N runs in a fresh process,
 * as a batch does: a workload-1 batch (2,000 artifacts) runs mostly cold code. The shapes are those a download is
 * built from (a fiber per item, a generator, a scope with a finalizer, a bracket); `plain` is the same waiting in
 * plain promises. For deciding what the per-artifact path may use.
 * usage: npx tsx bench/effect-costs.ts [N=2000,20000] [shape,...]
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

const shapes = ["plain", "promise", "gen", "uninterruptible", "acquireUseRelease", "scoped", "scoped+acquireRelease"] as const
type Shape = (typeof shapes)[number]

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const wait = Effect.promise(turn)
const item: Record<Exclude<Shape, "plain">, () => Effect.Effect<void>> = {
  promise: () => wait,
  gen: () => Effect.gen(function* () {
    yield* wait
  }),
  uninterruptible: () => Effect.uninterruptible(wait),
  acquireUseRelease: () => Effect.acquireUseRelease(Effect.void, () => wait, () => Effect.void),
  scoped: () => Effect.scoped(wait),
  "scoped+acquireRelease": () =>
    Effect.scoped(
      Effect.gen(function* () {
        yield* Effect.acquireRelease(Effect.void, () => Effect.void)
        yield* wait
      })
    )
}

/** Runs `n` items of `shape` here; CPU µs per item. */
const measure = async (shape: Shape, n: number): Promise<number> => {
  const before = process.cpuUsage()
  if (shape === "plain") {
    let next = 0
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < n) {
          next += 1
          await turn()
        }
      })
    )
  } else {
    await Effect.runPromise(Effect.forEach(Array.from({ length: n }), item[shape], { concurrency: 64, discard: true }))
  }
  const used = process.cpuUsage(before)
  return (used.user + used.system) / n
}

const [first, second] = process.argv.slice(2)
if (first === "--child") {
  const [shape, n] = (second ?? "").split(":")
  console.log((await measure(shape as Shape, Number(n))).toFixed(1))
} else {
  const counts = (first ?? "2000,20000").split(",").map(Number)
  const chosen = (second?.split(",") ?? shapes) as ReadonlyArray<Shape>
  const self = fileURLToPath(import.meta.url)
  console.log(`| shape | ${counts.map((n) => `µs/item at ${n}`).join(" | ")} |`)
  console.log(`|---|${counts.map(() => "---:").join("|")}|`)
  for (const shape of chosen) {
    const cells = counts.map((n) =>
      execFileSync(process.execPath, [...process.execArgv, self, "--child", `${shape}:${n}`], { encoding: "utf8" }).trim()
    )
    console.log(`| ${shape} | ${cells.join(" | ")} |`)
  }
}
