/**
 * @cargohold/s3 — cargohold `Storage` on S3-compatible object stores (AWS S3, MinIO, Ceph RGW, moto…).
 */
export * from "./config.js"
export {
  acquire as acquireS3Storage,
  layerS3Storage,
  layerS3StorageFromUrl,
  makeS3Storage,
  type S3StorageOptions,
  type S3StorageService
} from "./S3Storage.js"
export type { SweepReport, TempOwnership } from "./sweep.js"
export type { S3Handle } from "./client.js"
