/**
 * What a killed process leaves in an S3 bucket, on moto_server (an S3 emulator on loopback): `cargohold fetch`
 * SIGKILLed while its multipart upload is open leaves the upload (S3 keeps its parts until someone aborts it); the
 * next process that opens the store aborts it at once (its temp key names a dead owner), never the upload of a
 * process still running; an upload whose owner no name tells goes only once older than the staleness limit.
 */
import { CreateMultipartUploadCommand } from "@aws-sdk/client-s3"
import { processTempOwners } from "@cargohold/node"
import { acquireS3Storage } from "@cargohold/s3"
import { Effect, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"
import { type Moto, motoCredentials, startMoto } from "./support/moto.js"
import { createBucket, listKeys, openUploads, s3Client } from "./support/s3.js"

const MiB = 1024 * 1024
const bucket = "sweep-bucket"
/** Over one part (8 MiB): the upload starts with the first part, while the rest is held back. */
const body = bytesOf(12 * MiB, 71)
let moto: Moto
let server: TestServer
let client: ReturnType<typeof s3Client>
/** Resolving it lets held responses finish. */
let release: () => void = () => {}
let released = new Promise<void>((resolve) => {
  release = resolve
})
const work = tempDir("cargohold-s3-sweep-")

beforeAll(async () => {
  moto = await startMoto()
  client = s3Client(moto.endpoint)
  await createBucket(client, bucket)
  // 10 MiB at once, then the rest only once released: a fetch holds an open upload as long as the test wants
  server = await startServer((_request, response) => {
    response.writeHead(200, { "content-length": String(body.length) })
    response.write(body.subarray(0, 10 * MiB))
    void released.then(() => response.end(body.subarray(10 * MiB)))
  })
}, 60_000)

afterAll(async () => {
  release()
  client?.destroy()
  await Promise.all([moto?.stop(), server?.close()])
  work.remove()
})

const store = (prefix: string) => `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(moto.endpoint)}&region=us-east-1`
const env = (prefix: string) => ({
  AWS_ACCESS_KEY_ID: motoCredentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: motoCredentials.secretAccessKey,
  CARGOHOLD_STORE: store(prefix)
})
const uploadsUnder = async (prefix: string) => (await openUploads(client, bucket)).filter((u) => u.startsWith(`${prefix}/`))

/** Starts `cargohold fetch` of the held body into the store under `prefix`; resolves once its upload is open. */
const fetchHeld = async (prefix: string): Promise<{ child: ChildProcess; exited: Promise<number | null> }> => {
  const child = spawn(process.execPath, [binPath, "fetch", server.url(`/${prefix}.bin`), "--home", join(work.path, prefix)], {
    env: { PATH: process.env.PATH ?? "", HOME: work.path, ...env(prefix) },
    stdio: "ignore"
  })
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  for (let waited = 0; (await uploadsUnder(prefix)).length === 0; waited += 50) {
    if (waited > 30_000 || child.exitCode !== null) throw new Error("the fetch never opened its upload")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { child, exited }
}

describe("S3 temp uploads left by killed processes", () => {
  it("kill -9 mid-upload: the next process to open the store aborts the upload at once", async () => {
    const { child, exited } = await fetchHeld("killed")
    child.kill("SIGKILL")
    await exited
    // the bucket still holds the dead process's upload (and bills its parts)
    expect(await uploadsUnder("killed")).toHaveLength(1)
    const listed = await runCli(["ls", "--home", join(work.path, "killed")], { env: env("killed") })
    expect(listed.code, listed.stderr).toBe(0)
    expect(await uploadsUnder("killed")).toEqual([])
    expect(await listKeys(client, bucket, "killed/")).toEqual([])
  }, 60_000)

  it("a live process's upload is never swept: it completes after another process opened the store", async () => {
    const { exited } = await fetchHeld("alive")
    const listed = await runCli(["ls", "--home", join(work.path, "alive-other")], { env: env("alive") })
    expect(listed.code, listed.stderr).toBe(0)
    expect(await uploadsUnder("alive")).toHaveLength(1)
    release()
    expect(await exited).toBe(0)
    const sha = sha256Hex(body)
    expect(await listKeys(client, bucket, "alive/")).toEqual([`alive/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`])
    expect(await uploadsUnder("alive")).toEqual([])
    released = Promise.resolve()
  }, 60_000)

  it("an upload whose owner its name does not tell goes only once its key says it is older than the limit", async () => {
    // written two hours ago by a process of another host (its scope is not ours): only its age can tell
    const born = (Date.now() - 2 * 3_600_000).toString(36)
    const key = `aged/.tmp/${born}.0f8c2d1e-4242-kz3-5b1f0c9e-1d2a-4c3b-9e8f-0a1b2c3d4e5f.upload`
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    const open = (staleTempMs: number | undefined) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.map(
            acquireS3Storage(
              Effect.succeed({
                bucket,
                prefix: "aged",
                endpoint: moto.endpoint,
                credentials: { ...motoCredentials, secretAccessKey: Redacted.make(motoCredentials.secretAccessKey) }
              }),
              { owners: processTempOwners, staleTempMs }
            ),
            (storage) => storage.swept
          )
        )
      )
    // the default limit is a day: kept (moto_server dates every upload 2010; the key's own birth is what counts)
    expect(await open(undefined)).toEqual({ abortedUploads: 0, deletedObjects: 0 })
    expect(await uploadsUnder("aged")).toHaveLength(1)
    expect(await open(3_600_000)).toEqual({ abortedUploads: 1, deletedObjects: 0 })
    expect(await uploadsUnder("aged")).toEqual([])
  }, 60_000)
})
