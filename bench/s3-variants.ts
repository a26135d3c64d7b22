/**
 * The upload paths bench/s3.ts compares, each run in its own child process (peak RSS is per process):
 * - cargohold: `download` into `@cargohold/s3` (AWS SDK v3 client, own streaming multipart upload)
 * - lib-storage: undici body piped into `@aws-sdk/lib-storage`'s `Upload` (sha256 computed on the way)
 * - sigv4-undici: hand-signed (SigV4) multipart requests over undici, no SDK (the "lighter option")
 * usage: node --import tsx bench/s3-variants.ts VARIANT SOURCE_URL SHA256 ENDPOINT BUCKET KEY
 */
import { createHash, createHmac } from "node:crypto"
import { Transform } from "node:stream"

const [variant, sourceUrl, sha256, endpoint, bucket, key] = process.argv.slice(2) as [string, string, string, string, string, string]
const partSize = 8 * 1024 * 1024
const queueSize = 4
const credentials = { accessKeyId: "testing", secretAccessKey: "testing" }

let peak = 0
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 20)

const cargohold = async () => {
  const { Effect, Layer } = await import("effect")
  const core = await import("@cargohold/core")
  const testing = await import("@cargohold/core/testing")
  const s3 = await import("@cargohold/s3")
  const { NodeHttpClient } = await import("@effect/platform-node")
  const { layerNodeHasher } = await import("@cargohold/node")
  const storage = s3.layerS3Storage({
    bucket,
    prefix: key,
    endpoint,
    credentials,
    partSize,
    queueSize
  })
  const artifact = await Effect.runPromise(
    core.download({ url: sourceUrl, sha256 }).pipe(
      Effect.provide(Layer.mergeAll(storage, testing.layerMemoryCatalog, core.layerSilent, NodeHttpClient.layerUndici, layerNodeHasher))
    )
  )
  return artifact.sha256
}

const libStorage = async () => {
  const { S3Client } = await import("@aws-sdk/client-s3")
  const { Upload } = await import("@aws-sdk/lib-storage")
  const { request } = await import("undici")
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
  const response = await request(sourceUrl)
  const hash = createHash("sha256")
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      done(null, chunk)
    }
  })
  const body = response.body.pipe(hashing)
  const upload = new Upload({ client, params: { Bucket: bucket, Key: `${key}/object`, Body: body }, partSize, queueSize })
  await upload.done()
  client.destroy()
  return hash.digest("hex")
}

// --- a minimal SigV4 signer (path-style, UNSIGNED-PAYLOAD) ---
const hmac = (k: Buffer | string, data: string) => createHmac("sha256", k).update(data).digest()
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
const signed = (method: string, path: string, query: Record<string, string>) => {
  const url = new URL(endpoint)
  const now = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")
  const date = now.slice(0, 8)
  const scope = `${date}/us-east-1/s3/aws4_request`
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${encode(k)}=${encode(query[k]!)}`)
    .join("&")
  const headers: Record<string, string> = { host: url.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": now }
  const signedHeaders = Object.keys(headers).sort().join(";")
  const canonical = [
    method,
    path.split("/").map(encode).join("/"),
    canonicalQuery,
    ...Object.keys(headers)
      .sort()
      .map((h) => `${h}:${headers[h]}`),
    "",
    signedHeaders,
    "UNSIGNED-PAYLOAD"
  ].join("\n")
  const toSign = ["AWS4-HMAC-SHA256", now, scope, createHash("sha256").update(canonical).digest("hex")].join("\n")
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), "us-east-1"), "s3"), "aws4_request")
  const signature = createHmac("sha256", kSigning).update(toSign).digest("hex")
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
  return { url: `${endpoint}${path}${canonicalQuery === "" ? "" : `?${canonicalQuery}`}`, headers }
}

const sigv4 = async () => {
  const { request } = await import("undici")
  const path = `/${bucket}/${key}/object`
  const send = async (method: "POST" | "PUT", query: Record<string, string>, body?: Uint8Array | string) => {
    const { url, headers } = signed(method, path, query)
    const response = await request(url, { method, headers, body })
    const text = await response.body.text()
    if (response.statusCode >= 300) throw new Error(`${method} ${response.statusCode}: ${text.slice(0, 200)}`)
    return { text, etag: String(response.headers.etag ?? "") }
  }
  const created = await send("POST", { uploads: "" })
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1]!
  const parts: Array<{ n: number; etag: string }> = []
  const inflight = new Set<Promise<void>>()
  const put = async (n: number, bytes: Uint8Array) => {
    const { etag } = await send("PUT", { partNumber: String(n), uploadId }, bytes)
    parts.push({ n, etag })
  }
  const dispatch = async (n: number, bytes: Uint8Array) => {
    while (inflight.size >= queueSize) await Promise.race(inflight)
    const p: Promise<void> = put(n, bytes).finally(() => inflight.delete(p))
    inflight.add(p)
  }
  const hash = createHash("sha256")
  const response = await request(sourceUrl)
  let buffer = Buffer.allocUnsafe(partSize)
  let filled = 0
  let n = 1
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    hash.update(chunk)
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(partSize - filled, chunk.length - offset)
      chunk.copy(buffer, filled, offset, offset + take)
      filled += take
      offset += take
      if (filled === partSize) {
        await dispatch(n++, buffer)
        buffer = Buffer.allocUnsafe(partSize)
        filled = 0
      }
    }
  }
  if (filled > 0) await dispatch(n++, buffer.subarray(0, filled))
  await Promise.all(inflight)
  const xml = parts
    .sort((a, b) => a.n - b.n)
    .map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${p.etag}</ETag></Part>`)
    .join("")
  await send("POST", { uploadId }, `<CompleteMultipartUpload>${xml}</CompleteMultipartUpload>`)
  return hash.digest("hex")
}

const variants: Record<string, () => Promise<string>> = { cargohold, "lib-storage": libStorage, "sigv4-undici": sigv4 }

const started = process.hrtime.bigint()
const run = variants[variant]
if (run === undefined) throw new Error(`unknown variant ${variant}`)
const digest = await run()
const seconds = Number(process.hrtime.bigint() - started) / 1e9
clearInterval(sampler)
peak = Math.max(peak, process.memoryUsage().rss)
const usage = process.resourceUsage()
process.stdout.write(
  `${JSON.stringify({ variant, ok: digest === sha256, seconds, peakRssMiB: Math.round(usage.maxRSS / 1024), sampledPeakMiB: Math.round(peak / 1048576), userCpuS: usage.userCPUTime / 1e6, systemCpuS: usage.systemCPUTime / 1e6 })}\n`
)
