/**
 * How soon V8 hands a hot function to its optimizing compiler (TurboFan), for processes that fetch batches.
 *
 * A function is queued for optimization once it has used up an "interrupt budget" of bytecode executed (V8 11's
 * default: 132 KiB worth). A cargohold batch runs a wide code path (Effect's runtime, the pipeline, undici, the
 * store): in a 2,000-artifact fetch (`perf record` over `cargohold fetch -i`) about 740 functions are optimized and
 * TurboFan's background jobs took a quarter of the process's CPU, with some functions optimized, deoptimized and
 * optimized again. A larger budget leaves the lukewarm functions to the baseline tiers and optimizes the ones that
 * stay hot. Measured on workload 1 of the bench with 1 MB, A/B in one run (`npm run bench -- --workload 1
 * --repeats 3 --only undici,cargohold-cli,cargohold-lib --baseline DIR`, load 4–5): CLI 372 → 422 files/s, CPU
 * (user+sys) 7.67 → 5.92 s; library 374 → 456 files/s, 7.04 → 6.46 s. Alone, 6 alternating CLI runs: user CPU
 * 2.85 → 2.22 s (median).
 *
 * It sets a process-wide V8 flag, so the library never does it on its own: the CLI does at start-up (before the
 * command's code runs), and a program embedding the library may call it too. Functions already given a budget keep
 * theirs until their next one.
 */
import { setFlagsFromString } from "node:v8"

/** The budget the CLI uses, in bytes of bytecode executed (V8's unit). */
export const batchInterruptBudget = 1_000_000

/** Sets V8's interrupt budget (default `batchInterruptBudget`): functions are optimized after running that much. */
export const raiseTieringBudget = (bytes = batchInterruptBudget): void => {
  setFlagsFromString(`--interrupt-budget=${Math.max(1, Math.floor(bytes))}`)
}
