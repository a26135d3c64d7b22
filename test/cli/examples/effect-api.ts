// A plugin mirroring a repository with the Effect API: typed results per artifact, nothing partial ever stored.
import { type BatchRequest, download, fetchMany } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Console, Effect, Stream } from "effect"

export const mirror = (home: string, packages: ReadonlyArray<BatchRequest>) =>
  Effect.gen(function* () {
    let failed = 0
    yield* fetchMany(Stream.fromIterable(packages), { concurrency: 16 }).pipe(
      Stream.runForEach((result) =>
        result._tag === "Ok"
          ? Console.log(`${result.artifact.cached ? "had" : "got"} ${result.artifact.sha256} ${result.request.url}`)
          : Effect.zipRight(Effect.sync(() => failed++), Console.error(`${result.request.url}: ${result.error.message}`))
      )
    )
    // a single download: typed errors you can match on
    const index = yield* download({ url: String(packages[0]!.url), size: packages[0]!.size }).pipe(
      Effect.catchTag("DigestMismatch", (e) => Effect.fail(`bad mirror: ${e.url} served ${e.actual}`))
    )
    return { failed, index: index.sha256 }
  }).pipe(Effect.provide(layerNode({ home })))
