/**
 * S3 helpers for tests: a bucket per test file, listings of what is left behind.
 */
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { motoCredentials } from "./moto.js"

export const s3Client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: motoCredentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })

export const createBucket = (client: S3Client, bucket: string) => client.send(new CreateBucketCommand({ Bucket: bucket }))

/** Every object key under `prefix`. */
export const listKeys = async (client: S3Client, bucket: string, prefix = ""): Promise<Array<string>> => {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (out.Contents ?? []).map((o) => o.Key ?? "")
}

/** Every multipart upload still open in the bucket. */
export const openUploads = async (client: S3Client, bucket: string): Promise<Array<string>> => {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  return (out.Uploads ?? []).map((u) => `${u.Key}:${u.UploadId}`)
}
