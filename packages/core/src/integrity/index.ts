/**
 * Integrity at rest: verify / repair, replicate, read back from a healthy copy.
 */
export { ArtifactUnavailable, CorruptArtifact } from "./errors.js"
export { copyVerified, type CopyOutcome, type Hashed, hashStream } from "./hashing.js"
export { type ExportTarget, exportTo, type ReadOptions, readArtifact } from "./read.js"
export { type RepairResult, repairLocation } from "./repair.js"
export { ReplicaResult, type ReplicateOptions, replicate } from "./replicate.js"
export { readableLocations, replacing, resolveStores, type Stores } from "./stores.js"
export {
  LocationVerdict,
  UncheckedLocation,
  unrepaired,
  type VerifyOptions,
  VerifyReport,
  verify
} from "./verify.js"
