/**
 * Manifests: plain URL lists, JSON Lines and Metalink 4, parsed and validated as a whole.
 */
export { type ParsedManifest, detectFormat, formatFromName, parseManifest } from "./parse.js"
export { JsonlEntry } from "./jsonl.js"
export { fromMetalinkPriority } from "./metalink.js"
export type { ManifestFormat } from "./types.js"
