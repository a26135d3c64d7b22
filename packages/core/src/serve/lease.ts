/**
 * Fetch leases: which of several `serve` processes on one store fetches an artifact on demand. The first to claim
 * the lease fetches; the others wait for the artifact to appear in the store (see `awaitOther` in onDemand.ts) and
 * take the lease over when it is freed (the owner failed or stopped) or goes stale (the owner died). A lease is
 * held only for the fetch; the bytes are shared through the store, so a process waiting on another's fetch
 * answers once the artifact is stored (it cannot follow the other process's bytes live).
 * The platform decides how a lease is kept (the Node one: a file created exclusively, see @cargohold/node/serve).
 */
import { Effect } from "effect"

export type LeaseClaim =
  /** This process fetches; `release` when the fetch has ended (stored or failed). */
  | { readonly _tag: "Owned"; readonly release: Effect.Effect<void> }
  /** A live process fetches it now. */
  | { readonly _tag: "Held" }

export interface FetchLeases {
  /** Claims the lease of one artifact; never fails (a lease that cannot be kept is owned: a second fetch at worst). */
  readonly claim: (sha256: string) => Effect.Effect<LeaseClaim>
}

/** Every claim owned: one process alone (and the in-memory stub). */
export const soleLeases: FetchLeases = {
  claim: () => Effect.succeed({ _tag: "Owned", release: Effect.void })
}
