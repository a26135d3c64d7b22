/**
 * A bound on how far V8 lets the heap grow between full collections, for processes that fetch long batches.
 *
 * After each full GC V8 sets the next old-space limit to the live heap times a factor it picks from the
 * allocation rate — up to 4× when allocating fast, as a batch does: every download's short-lived objects that
 * outlive two scavenges are promoted and wait there for the next full GC. Measured on 20,000 × 4 KiB through
 * `fetchMany` under `layerNode`: ≈ 50 MiB live after a full GC, yet `heapTotal` 210 MiB and peak RSS 332 MiB.
 * With the factor fixed at 2 (`--heap-growing-percent=100`): peak RSS 223 MiB, same wall and CPU time (at 1.5:
 * 199 MiB, 7% slower). This is a growth factor, not a heap limit: a program that really needs more memory gets it.
 *
 * It sets a process-wide V8 flag, so the library never does it on its own: the CLI does at start-up, and a program
 * embedding the library may call it too.
 */
import { setFlagsFromString } from "node:v8"

/** Fixes V8's heap growing factor at `1 + percent / 100` (default 100: the heap grows to at most 2× live). */
export const limitHeapGrowth = (percent = 100): void => {
  setFlagsFromString(`--heap-growing-percent=${Math.max(1, Math.floor(percent))}`)
}
