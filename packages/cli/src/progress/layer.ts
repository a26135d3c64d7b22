/**
 * The renderer as a scoped `Progress` layer: the drawing timer starts with the scope and the display is cleaned
 * up when the scope closes, on success, failure or interruption (and, as a last resort, at process exit).
 */
import { Progress } from "@cargohold/core"
import { Effect, Layer } from "effect"
import { makeRenderer, type Renderer, type RendererOptions } from "./renderer.js"

/** Starts the timer; returns the renderer. The caller closes it. */
export const startRenderer = (options: RendererOptions): Renderer & { readonly stop: () => void } => {
  const renderer = makeRenderer(options)
  const live = options.live ?? options.target.isTTY === true
  const timer = setInterval(renderer.tick, options.frameMs ?? (live ? 100 : 250))
  timer.unref()
  const atExit = () => renderer.close()
  process.once("exit", atExit)
  return {
    ...renderer,
    stop: () => {
      clearInterval(timer)
      process.removeListener("exit", atExit)
      renderer.close()
    }
  }
}

/** A `Progress` drawing to `options.target` for the lifetime of the layer. */
export const layerRenderer = (options: RendererOptions): Layer.Layer<Progress> =>
  Layer.scoped(
    Progress,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => startRenderer(options)),
        (renderer) => Effect.sync(renderer.stop)
      ),
      (renderer) => renderer.progress
    )
  )
