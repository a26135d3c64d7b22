/**
 * Batches: many artifacts, many sources, bounded memory, grouped catalog writes, batch progress.
 */
export {
  BatchExecutor,
  type BatchExecutorService,
  type BatchFailed,
  type BatchOk,
  type BatchOptions,
  type BatchRequest,
  type BatchResult,
  fetchMany
} from "./fetchMany.js"
export type { BatchRecorder } from "./recorder.js"
export { BatchTracker, type TrackerOptions } from "./tracker.js"
