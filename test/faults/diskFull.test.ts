/**
 * A disk that fills up, at every stage, on a real 8 MiB tmpfs: while a download streams into the store, while the
 * catalog (SQLite on the tmpfs) is written, while `export` writes its file, while `replicate` writes to a file
 * store. And the free-space reserve that keeps an endless body from getting there. Real loopback servers.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Catalog, download, type Sha256 } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Duration, Effect, Exit, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failureOf } from "../support/downloads.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"
import { canMount, mountTmpfs, needsRoot, type Tmpfs } from "../support/tmpfs.js"
import { type FileServer, filesUnder, jsonLines, runCli, serveFiles, sha256Hex, tempDir } from "../cli/helpers.js"

const MiB = 1024 * 1024
let server: TestServer
let disk: Tmpfs
const scratch = tempDir("cargohold-faults-disk-")
const big = bytesOf(12 * MiB, 3)
const medium = bytesOf(3 * MiB, 4)
const small = bytesOf(20_000, 5)

beforeAll(async () => {
  server = await startServer((request, response) => {
    const body = request.url === "/big.bin" ? big : request.url === "/medium.bin" ? medium : request.url === "/small.bin" ? small : undefined
    if (request.url === "/endless") {
      // no length, no end: bounded at 256 MiB so a broken client cannot keep it going forever
      response.writeHead(200, { "content-type": "application/octet-stream" })
      const block = Buffer.alloc(64 * 1024, 1)
      let sent = 0
      const pump = () => {
        while (sent < 256 * MiB && !response.destroyed) {
          sent += block.length
          if (!response.write(block)) return void response.once("drain", pump)
        }
        response.end()
      }
      pump()
      return
    }
    if (body === undefined) return void response.writeHead(404).end()
    response.writeHead(200, { "content-length": String(body.length) }).end(body)
  })
  if (canMount) disk = mountTmpfs(8 * MiB)
})

afterAll(async () => {
  await server.close()
  disk?.unmount()
  scratch.remove()
})

const settings = { retries: 0, retryBaseDelay: Duration.millis(5), retryMaxDelay: Duration.millis(10) }

let n = 0
/** A fresh store folder on the tmpfs; the SQLite catalog beside it (`catalogOnDisk`) or on the normal disk. */
const layout = (options: { readonly catalogOnDisk?: boolean } = {}) => {
  const id = ++n
  const store = join(disk.path, `store-${id}`)
  const catalog = options.catalogOnDisk ? join(disk.path, `catalog-${id}.db`) : join(scratch.path, `catalog-${id}.db`)
  return { store, catalog }
}

const layer = (where: { store: string; catalog: string }, minFreeBytes?: number) =>
  layerNode({
    home: scratch.path,
    store: pathToFileURL(where.store).href,
    catalog: `sqlite://${where.catalog}`,
    settings,
    minFreeBytes
  })

const stored = (store: string) => filesUnder(store).filter((f) => !f.includes("/.tmp/"))
const temps = (store: string) => readdirSync(join(store, ".tmp"))

describe.skipIf(!canMount)(`disk full in the store${needsRoot}`, () => {
  it("a body larger than the free space: a typed StorageError saying disk full; nothing stored, no temp file", async () => {
    const where = layout()
    const exit = await Effect.runPromiseExit(
      Effect.gen(function* () {
        const failed = yield* Effect.exit(download({ url: server.url("/big.bin"), sha256: sha256Hex(big) }))
        // the space comes back: the next download works
        const ok = yield* download({ url: server.url("/small.bin"), sha256: sha256Hex(small) })
        const catalog = yield* Catalog
        const row = yield* catalog.lookup(sha256Hex(big) as Sha256)
        return { failed, ok, row }
      }).pipe(Effect.provide(layer(where, 0)))
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const error = failureOf(exit.value.failed)
    expect(error._tag).toBe("StorageError")
    expect(error.message).toMatch(/disk full \(ENOSPC\)/)
    expect(Option.isNone(exit.value.row)).toBe(true)
    expect(stored(where.store).map((f) => f.split("/").pop())).toEqual([sha256Hex(small)])
    expect(temps(where.store)).toEqual([])
  })

  it("the free-space reserve refuses an endless body before the disk fills: typed, clear, nothing left", async () => {
    const where = layout()
    const reserve = 4 * MiB
    const exit = await Effect.runPromiseExit(
      download({ url: server.url("/endless") }).pipe(Effect.provide(layer(where, reserve)))
    )
    const error = failureOf(exit)
    expect(error._tag).toBe("StorageError")
    expect(error.message).toMatch(/not enough free space: writing would leave less than 4\.0 MiB free/)
    // never filled: the reserve (less what was in flight) is still free
    expect(disk.free()).toBeGreaterThan(reserve - 2 * MiB)
    expect(stored(where.store)).toEqual([])
    expect(temps(where.store)).toEqual([])
  })

  it("the default reserve is max(1 GiB, 2 %): an 8 MiB filesystem takes nothing, and says why", async () => {
    const where = layout()
    const exit = await Effect.runPromiseExit(
      download({ url: server.url("/small.bin"), sha256: sha256Hex(small) }).pipe(Effect.provide(layer(where)))
    )
    const error = failureOf(exit)
    expect(error._tag).toBe("StorageError")
    expect(error.message).toMatch(/less than 1\.0 GiB free .*CARGOHOLD_MIN_FREE/)
    expect(stored(where.store)).toEqual([])
  })
})

describe.skipIf(!canMount)(`disk full under the catalog (SQLite on the tmpfs), through the CLI${needsRoot}`, () => {
  const count = 300
  const bodies = Array.from({ length: count }, (_, i) => bytesOf(3000, 100 + i))
  let files: FileServer
  beforeAll(async () => {
    files = await serveFiles(new Map(bodies.map((body, i) => [`/k${i}.bin`, body] as const)))
  })
  afterAll(() => files.close())

  it("each artifact gets its result (ok, or a CatalogError saying disk full); what failed is not left in the store", async () => {
    const id = ++n
    const catalog = `sqlite://${join(disk.path, `cli-catalog-${id}.db`)}`
    const store = join(scratch.path, `cli-store-${id}`)
    const env = { CARGOHOLD_MIN_FREE: "0", HOME: scratch.path }
    const where = ["--catalog", catalog, "--store", pathToFileURL(store).href]
    const created = await runCli(["ls", ...where], { env })
    expect(created.code).toBe(0)
    // room for a few group commits of the catalog, not for all of them
    const unfill = disk.fillTo(250_000)
    const urls = bodies.map((_, i) => files.url(`/k${i}.bin`))
    let result: Awaited<ReturnType<typeof runCli>>
    try {
      result = await runCli(["fetch", "--json", ...where, ...urls], { env })
    } finally {
      unfill()
    }
    const output = result.stdout + result.stderr
    expect(output).not.toContain("internal error")
    expect(output).not.toMatch(/^\s+at /m)
    expect(result.code).toBe(1)
    const lines = jsonLines(result.stdout)
    expect(lines.map((l) => l.url).sort()).toEqual([...urls].sort())
    const failed = lines.filter((l) => l.status === "failed")
    expect(failed.length).toBeGreaterThan(0)
    for (const line of failed) {
      expect(line.error).toMatchObject({ _tag: "CatalogError" })
      expect(String((line.error as { message: string }).message)).toMatch(/^catalog .* failed: disk full \(SQLITE_FULL\)$/)
    }
    // the store holds exactly what the catalog lists: objects of failed artifacts were removed again
    const ok = lines.filter((l) => l.status === "ok").map((l) => String(l.sha256)).sort()
    expect(stored(store).map((f) => f.split("/").pop()).sort()).toEqual(ok)
    const listed = await runCli(["ls", "--json", ...where], { env })
    expect(jsonLines(listed.stdout).map((row) => String(row.sha256)).sort()).toEqual(ok)
    expect(temps(store)).toEqual([])

    // with space again, the same batch completes
    const again = await runCli(["fetch", "--json", ...where, ...urls], { env })
    expect(again.code).toBe(0)
    expect(jsonLines(again.stdout).every((l) => l.status === "ok")).toBe(true)
    expect(stored(store).length).toBe(count)
  })
})

describe.skipIf(!canMount)(`disk full at export and at replicate, through the CLI${needsRoot}`, () => {
  const body = bytesOf(2 * MiB + 123, 9)
  let files: FileServer
  let home: string
  const env = () => ({ HOME: scratch.path, CARGOHOLD_HOME: home, CARGOHOLD_MIN_FREE: "0" })
  beforeAll(async () => {
    files = await serveFiles(new Map([["/export.bin", body]]))
    home = join(scratch.path, "home-export")
    const fetched = await runCli(["fetch", files.url("/export.bin"), "--sha256", sha256Hex(body)], { env: env() })
    expect(fetched.code).toBe(0)
  })
  afterAll(() => files.close())

  it("export: exit 1, one clear line, no file (not even a partial one), never 'verified'; with room again it works", async () => {
    const target = join(disk.path, `export-${++n}.bin`)
    const unfill = disk.fillTo(1 * MiB)
    let full: Awaited<ReturnType<typeof runCli>>
    try {
      full = await runCli(["export", sha256Hex(body), target], { env: env() })
    } finally {
      unfill()
    }
    expect(full.code).toBe(1)
    expect(full.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^cargohold: cannot write .*: no space left on device \(ENOSPC\)$/)])
    expect(full.stderr).not.toContain("verified")
    expect(readdirSync(disk.path).filter((name) => name.includes(`export-${n}`))).toEqual([])

    const ok = await runCli(["export", sha256Hex(body), target], { env: env() })
    expect(ok.code).toBe(0)
    expect(ok.stderr).toContain("sha256 verified")
    expect(sha256Hex(await import("node:fs").then((fs) => fs.readFileSync(target)))).toBe(sha256Hex(body))
  })

  it("replicate to a file store on a full disk: the artifact fails with disk full, the target keeps nothing", async () => {
    const target = join(disk.path, `replica-${++n}`)
    const unfill = disk.fillTo(1 * MiB)
    let full: Awaited<ReturnType<typeof runCli>>
    try {
      full = await runCli(["replicate", sha256Hex(body), "--to", pathToFileURL(target).href, "--json"], { env: env() })
    } finally {
      unfill()
    }
    expect(full.code).toBe(1)
    const [line] = jsonLines(full.stdout)
    expect(line).toMatchObject({ status: "failed" })
    expect(String(line!.detail)).toMatch(/disk full \(ENOSPC\)/)
    expect(stored(target)).toEqual([])
    expect(temps(target)).toEqual([])
    const whereis = await runCli(["whereis", sha256Hex(body), "--json"], { env: env() })
    const locations = (JSON.parse(whereis.stdout) as { locations: Array<{ store: string }> }).locations
    expect(locations.map((l) => l.store)).not.toContain(pathToFileURL(target).href)

    const ok = await runCli(["replicate", sha256Hex(body), "--to", pathToFileURL(target).href, "--json"], { env: env() })
    expect(ok.code).toBe(0)
    expect(jsonLines(ok.stdout)[0]).toMatchObject({ status: "copied" })
    expect(stored(target).length).toBe(1)
  })
})
