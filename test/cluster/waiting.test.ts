/**
 * `fetch --cluster` when no runner is alive: the batch's messages wait in the cluster's table, and the command
 * says so on stderr instead of sitting silent; once a runner joins, the batch completes with the usual lines,
 * summary and exit code.
 */
import { randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { bytesOf, type FileServer, jsonLines, serveFiles, sha256Hex, tempDir } from "../cli/helpers.js"
import { type Runner, startCli, startRunner, until } from "./helpers.js"

describe("fetch --cluster with no runner alive", () => {
  let db: PgDatabase
  let dir: ReturnType<typeof tempDir>
  let server: FileServer
  let runner: Runner | undefined
  const files = new Map<string, Uint8Array>()

  beforeAll(async () => {
    db = await createPgDatabase("waiting")
    dir = tempDir("cargohold-waiting-")
    for (let i = 0; i < 4; i++) files.set(`/w/${i}.bin`, bytesOf(20_000 + i, 50 + i))
    server = await serveFiles(files)
  }, 60_000)

  afterAll(async () => {
    await runner?.stop()
    await server?.close()
    await db?.drop()
    dir?.remove()
  }, 60_000)

  it("says the batch waits, and completes once a runner joins", async () => {
    const env = { CARGOHOLD_SECRET_KEY: randomBytes(32).toString("base64"), CARGOHOLD_HOME: join(dir.path, "home") }
    const manifest = join(dir.path, "m.txt")
    writeFileSync(manifest, [...files].map(([p, body]) => `${server.url(p)} sha256:${sha256Hex(body)}\n`).join(""))
    const fetch = startCli(["fetch", "-i", manifest, "--cluster", db.url, "--json"], env)
    await until(() => fetch.stderr.includes("is alive: the batch waits until one joins") || fetch.child.exitCode !== null, "the waiting notice", 60_000)
    expect(fetch.child.exitCode).toBe(null)
    expect(fetch.stderr).toContain("no runner of the cluster at")
    expect(fetch.stdout).toBe("")

    runner = await startRunner(db.url, pathToFileURL(join(dir.path, "store")).href, env)
    const { code } = await fetch.exited
    expect(fetch.stderr).toContain("4 artifacts: 4 ok")
    expect(code).toBe(0)
    expect(jsonLines(fetch.stdout).map((l) => l.status)).toEqual(["ok", "ok", "ok", "ok"])
  }, 120_000)
})
