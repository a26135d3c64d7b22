/**
 * Manifests: plain URL lists, JSON Lines and Metalink 4, parsed and validated as a whole.
 */
export {
  detectFormat,
  formatFromName,
  type ManifestScan,
  manifestEntries,
  type ParsedManifest,
  parseManifest,
  scanManifest
} from "./parse.js"
export { JsonlEntry } from "./jsonl.js"
export type { ManifestEntry, ManifestFormat, ManifestText } from "./types.js"
