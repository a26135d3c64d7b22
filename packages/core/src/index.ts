/**
 * @cargohold/core — platform-free services, schemas, errors and the verified download pipeline.
 *
 * The public API, by name: the services (Tags) and their interfaces, the schemas of requests, remotes, catalog rows
 * and events, the typed errors, `download` / `fetchMany` and the integrity, manifest and repository operations. The
 * rest (the retry policy, limiter internals, redirects, resumption, the serve helpers of @cargohold/node/serve…) is
 * machinery: reachable through the non-semver `@cargohold/core/internal/<folder>/<module>` entry, which may change in
 * any release.
 */
export { Artifact, StoredObject } from "./domain/artifact.js"
export {
  Algorithm,
  algorithms,
  ByteSize,
  ComputedDigests,
  Digests,
  HexDigest,
  Sha256,
  shardedKey
} from "./domain/digest.js"
export {
  CatalogError,
  CatalogFailure,
  ConnectError,
  DigestMismatch,
  DownloadError,
  HttpStatusError,
  InvalidRequest,
  ManifestError,
  ManifestProblem,
  ProtocolError,
  ProxyError,
  RedirectError,
  SizeLimitExceeded,
  SizeMismatch,
  StorageError,
  StorageFailure,
  TimeoutError,
  TlsError,
  TransferError
} from "./domain/errors.js"
export { homeSegments } from "./domain/home.js"
export {
  type DownloadRequestInput,
  DownloadSpec,
  type PieceDigests,
  parseDigestSpec,
  requestedSha256,
  type SourceInput,
  validateRequest
} from "./domain/request.js"
export { describeParseError } from "./domain/schemaIssues.js"
export { Hasher, type HasherService, pureHasher, type RunningHash } from "./hash/Hasher.js"
export { redactUrl, redactUrlsInText } from "./http/userinfo.js"
export { originOf } from "./http/origin.js"
export {
  type BodyFailure,
  type BodySink,
  type Exchange,
  type ExchangeRequest,
  type ExchangeResponse,
  HttpExchange,
  type HttpExchangeService,
  type Peer
} from "./http/exchange.js"
export type { HostSignal, HostSlots } from "./http/hostGate.js"
export {
  type CommitOptions,
  type CommitResult,
  type OpenedTemp,
  type PendingSync,
  Storage,
  type StorageService,
  type TempObject
} from "./storage/Storage.js"
export {
  type ArtifactKnowledge,
  Catalog,
  type CatalogImplementation,
  type CatalogService,
  makeCatalog
} from "./catalog/Catalog.js"
export {
  ArtifactRow,
  CatalogEntry,
  DigestLookup,
  DownloadRecord,
  defaultPriority,
  LocationRow,
  LocationState,
  LocationsToVerify,
  ProvenanceRow,
  SourceDeclaration,
  SourceFailure,
  SourceRow
} from "./catalog/schema.js"
export { locationOrder, sourceOrder } from "./catalog/ordering.js"
export { parseWhereisQuery, type Whereabouts, type WhereisQuery, whereaboutsJson, whereis } from "./catalog/whereis.js"
export {
  BatchProgress,
  Bytes,
  Done,
  Failed,
  HostBackoff,
  HostRecovered,
  ProgressEvent,
  Queued,
  Retrying,
  SourceFailed,
  Started,
  VerifyBytes,
  VerifyDone,
  VerifyStarted
} from "./progress/events.js"
export { fromCallback, layerSilent, Progress, type ProgressService, silent } from "./progress/Progress.js"
export { type FileAccess, FileSource, type FileSourceService, type OpenedFile } from "./source/FileSource.js"
export { DownloadConfig, type DownloadSettings, defaultSettings } from "./pipeline/config.js"
export {
  type ConnectionLimiter,
  ConnectionLimits,
  defaultLimits,
  type LimitOptions,
  layerConnectionLimits,
  makeLimiter,
  type RemoteLimiter
} from "./pipeline/limits.js"
export {
  download,
  type DownloadOptions,
  downloadWith,
  type FinishedCommit,
  type RecordDownload
} from "./pipeline/download.js"
export * from "./batch/index.js"
export * from "./manifest/index.js"
export {
  Auth,
  BasicAuth,
  BearerAuth,
  Pem,
  ProxySettings,
  Remote,
  RemoteLimits,
  RetrySettings,
  Timeouts,
  TlsSettings
} from "./remote/Remote.js"
export { NetworkPolicy, type NetworkPolicyService, type RemoteConnection } from "./remote/policy.js"
export { Remotes, type RemotesService } from "./remote/Remotes.js"
export { Telemetry, type TelemetryService, telemetryOn } from "./telemetry/telemetry.js"
export * from "./integrity/index.js"
export * from "./repository/index.js"
// the in-memory backends are real backends too (`memory:` URLs, callers that want verified bytes in memory only);
// /testing re-exports them beside the stubs
export { layerMemoryCatalog } from "./catalog/memory.js"
export { layerMemoryRepositories } from "./repository/memory.js"
export { layerMemoryStorage } from "./storage/memory.js"
