/**
 * The process-wide V8 flags the CLI runs with, in one place: main.ts sets them when the command starts, and the
 * launcher (bundleScript.ts) sets them earlier, before it compiles the bundle.
 *
 * Why earlier: V8 accepts a code cache only under the flags it was made with (a hash of every flag that differs
 * from its default, taken when the cache is made and again when it is read). The build's training run makes the
 * cache at exit, after these flags are set; a later start reads it before main.ts runs. Both sides set them before
 * compiling, so both hashes agree. Setting them twice is harmless (the second time changes nothing).
 */
import { limitHeapGrowth } from "@cargohold/node/heap"
import { raiseTieringBudget } from "@cargohold/node/tiering"

export const setCliV8Flags = (): void => {
  // The heap grows to at most 2× what is live between full GCs (see heap.ts)
  limitHeapGrowth()
  // Fewer functions sent to TurboFan (see tiering.ts)
  raiseTieringBudget()
}
