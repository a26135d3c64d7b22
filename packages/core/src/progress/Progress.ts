/**
 * The Progress service: receives typed events. Emitting must be cheap; renderers aggregate and throttle.
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { ProgressEvent } from "./events.js"

export interface ProgressService {
  readonly emit: (event: ProgressEvent) => Effect.Effect<void>
}

export class Progress extends Context.Tag("@cargohold/core/Progress")<Progress, ProgressService>() {}

/** Drops every event. */
export const silent: ProgressService = { emit: () => Effect.void }
export const layerSilent: Layer.Layer<Progress> = Layer.succeed(Progress, silent)

/** Builds a Progress from a synchronous callback (renderers, facades). */
export const fromCallback = (f: (event: ProgressEvent) => void): ProgressService => ({
  emit: (event) => Effect.sync(() => f(event))
})

/** Keeps every event, for tests. */
export interface CollectingProgress extends ProgressService {
  readonly events: Effect.Effect<ReadonlyArray<ProgressEvent>>
}

export class CollectedProgress extends Context.Tag("@cargohold/core/CollectedProgress")<
  CollectedProgress,
  CollectingProgress
>() {}

export const makeCollecting: Effect.Effect<CollectingProgress> = Effect.map(
  Ref.make<ReadonlyArray<ProgressEvent>>([]),
  (ref) => ({
    emit: (event) => Ref.update(ref, (events) => [...events, event]),
    events: Ref.get(ref)
  })
)

/** Provides both `Progress` and `CollectedProgress` (read the events back through the latter). */
export const layerCollecting: Layer.Layer<Progress | CollectedProgress> = Layer.effectContext(
  Effect.map(makeCollecting, (collecting) =>
    Context.make(Progress, collecting as ProgressService).pipe(Context.add(CollectedProgress, collecting))
  )
)
