/**
 * The Remotes service: the named remotes (`cargohold remote add`), each a `Remote` with its whole network policy.
 *
 * A service of its own, apart from the Catalog: the pipeline asks it for the remote a catalog source names, the CLI
 * manages it, cluster runners read it. The backends that keep a catalog keep the remotes beside it (in SQL, the
 * `remotes` table, joined for a source's priority), so their layers give both services from one store.
 */
import { Context, type Effect, type Option } from "effect"
import type { CatalogError } from "../domain/errors.js"
import type { Remote } from "./Remote.js"

export interface RemotesService {
  /** Creates or replaces the remote with this name (secrets are stored encrypted by persistent backends). */
  readonly put: (remote: Remote) => Effect.Effect<void, CatalogError>
  readonly get: (name: string) => Effect.Effect<Option.Option<Remote>, CatalogError>
  /** Every remote, by name. */
  readonly list: () => Effect.Effect<ReadonlyArray<Remote>, CatalogError>
  /** Forgets a remote; true when it existed. Sources naming it keep the name. */
  readonly remove: (name: string) => Effect.Effect<boolean, CatalogError>
}

export class Remotes extends Context.Tag("@cargohold/core/Remotes")<Remotes, RemotesService>() {}
