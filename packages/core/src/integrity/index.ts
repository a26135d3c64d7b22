/**
 * Integrity at rest: verify / repair, replicate, read back from a healthy copy. (The hashing copy, the store
 * resolution and the repair of one location are their machinery: @cargohold/core/internal/integrity/….)
 */
export { ArtifactUnavailable, CorruptArtifact } from "./errors.js"
export type { CopyOutcome, Hashed } from "./hashing.js"
export { type ExportTarget, exportTo, type ReadOptions, readArtifact } from "./read.js"
export type { RepairResult } from "./repair.js"
export { ReplicaResult, type ReplicateOptions, replicate } from "./replicate.js"
export type { Stores } from "./stores.js"
export {
  LocationVerdict,
  UncheckedLocation,
  unrepaired,
  type VerifyOptions,
  VerifyReport,
  verify
} from "./verify.js"
