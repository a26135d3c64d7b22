/**
 * Stub layers for tests of code built on cargohold: in-memory Storage and Catalog, a Storage that keeps nothing,
 * a scripted HttpClient, a collecting Progress.
 */
export { layerMemoryCatalog, makeMemoryCatalog, type MemoryCatalog } from "../catalog/memory.js"
export { CollectedProgress, type CollectingProgress, layerCollecting, makeCollecting } from "../progress/Progress.js"
export { layerMemoryRepositories, makeMemoryRepositories } from "../repository/memory.js"
export { layerMemoryStorage, makeMemoryStorage, type MemoryStorage } from "../storage/memory.js"
export { layerNullStorage, nullStorage } from "../storage/null.js"
export {
  layerScriptedHttp,
  type RecordedRequest,
  type ScriptedHttp,
  ScriptedHttpLog,
  type ScriptStep
} from "./scriptedHttp.js"
export { layerMemoryBackends, layerTest, MemoryBackends } from "./layer.js"
