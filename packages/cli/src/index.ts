/**
 * @cargohold/cli — the `cargohold` command tree and the terminal progress renderer (usable by other programs).
 */
export { cargohold, cli, helpTree, version } from "./cli.js"
export { described, type HelpNode, helpPath, renderPage } from "./help/page.js"
export { layerRenderer, startRenderer } from "./progress/layer.js"
export { makeRenderer, type RenderTarget, type Renderer, type RendererOptions } from "./progress/renderer.js"
export { formatBytes, formatDuration, formatRate } from "./progress/format.js"
