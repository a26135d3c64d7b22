/**
 * @cargohold/core — platform-free services, schemas, errors and the verified download pipeline.
 */
export * from "./domain/artifact.js"
export * from "./domain/digest.js"
export * from "./domain/errors.js"
export { homeSegments } from "./domain/home.js"
export * from "./domain/request.js"
export * from "./domain/schemaIssues.js"
export * from "./hash/Hasher.js"
export * from "./http/classify.js"
export * from "./http/redirects.js"
export * from "./http/userinfo.js"
export { originOf } from "./http/origin.js"
export * from "./http/exchange.js"
export * from "./storage/Storage.js"
export * from "./catalog/Catalog.js"
export * from "./catalog/schema.js"
export * from "./catalog/ordering.js"
export * from "./catalog/whereis.js"
export * from "./progress/events.js"
export { RateMeter, timeLeftMs } from "./progress/rate.js"
export * from "./progress/Progress.js"
export * from "./source/FileSource.js"
export * from "./pipeline/config.js"
export * from "./pipeline/limits.js"
export { isLocalFailure, isOriginFailure, isRetryable, retrySchedule, retryAtSameSource } from "./pipeline/retryPolicy.js"
export {
  download,
  type DownloadOptions,
  downloadWith,
  type FinishedCommit,
  nextDownloadId,
  type RecordDownload,
  runPendingSyncs
} from "./pipeline/download.js"
export { coalesce, inFlightCount } from "./pipeline/coalesce.js"
export {
  type Candidate,
  makeOriginHealth,
  OriginHealth,
  type OriginHealthService,
  rankCandidates,
  SourcePolicy,
  type SourcePolicySettings
} from "./pipeline/sources.js"
export * from "./batch/index.js"
export * from "./manifest/index.js"
export * from "./remote/Remote.js"
export * from "./remote/policy.js"
export * from "./http/hostGate.js"
export * from "./http/latencyLimit.js"
export * from "./telemetry/telemetry.js"
export * from "./http/resume.js"
export * from "./http/tokenBucket.js"
export * from "./integrity/index.js"
export * from "./repository/index.js"
export * from "./serve/index.js"
// the in-memory backends are real backends too (`memory:` URLs, callers that want verified bytes in memory only);
// /testing re-exports them beside the stubs
export { layerMemoryCatalog } from "./catalog/memory.js"
export { layerMemoryRepositories } from "./repository/memory.js"
export { layerMemoryStorage } from "./storage/memory.js"
