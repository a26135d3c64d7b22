/**
 * `s3://` stores through the built CLI, on moto_server (an S3 emulator on loopback): fetch into the bucket, then
 * ls / verify / cat — and no AWS SDK notice (its Node-version warning) on the user's terminal.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { join } from "node:path"
import { type Moto, motoCredentials, startMoto } from "../storage/support/moto.js"
import { createBucket, s3Client } from "../storage/support/s3.js"
import { bytesOf, type FileServer, runCli, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const body = bytesOf(9000, 41)
let moto: Moto
let server: FileServer
const home = tempDir()

beforeAll(async () => {
  ;[moto, server] = await Promise.all([startMoto(), serveFiles(new Map([["/x.bin", body]]))])
  const client = s3Client(moto.endpoint)
  await createBucket(client, "cli-bucket")
  client.destroy()
}, 60_000)
afterAll(async () => {
  await Promise.all([moto?.stop(), server?.close()])
  home.remove()
})

describe("s3:// from the command line", () => {
  it("fetch, ls, verify and cat against the emulator print no SDK warning", async () => {
    const store = `s3://cli-bucket/p?endpoint=${encodeURIComponent(moto.endpoint)}&region=us-east-1`
    const env = {
      AWS_ACCESS_KEY_ID: motoCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: motoCredentials.secretAccessKey,
      CARGOHOLD_STORE: store
    }
    const h = ["--home", join(home.path, "h")]
    const fetched = await runCli(["fetch", server.url("/x.bin"), ...h], { env })
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(fetched.stdout).toContain(sha256Hex(body))
    const verified = await runCli(["verify", ...h], { env })
    expect(verified.code, verified.stderr).toBe(0)
    const cat = await runCli(["cat", sha256Hex(body), ...h], { env })
    expect(cat.stdoutBytes.equals(body)).toBe(true)
    for (const result of [fetched, verified, cat]) {
      expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK|Warning:/)
      expect(result.stderr).not.toContain("internal error")
    }
    // the SDK's own switch is what silences it: a user who sets it to false gets the notice back
    const opted = await runCli(["ls", ...h], { env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "false" } })
    expect(opted.code, opted.stderr).toBe(0)
    if (Number(process.versions.node.split(".")[0]) < 22) expect(opted.stderr).toContain("NodeVersionSupportWarning")
  }, 60_000)
})
