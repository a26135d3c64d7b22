/**
 * `cargohold serve` as a process: real clients (curl, wget, aria2c with several connections, npm installing a
 * tarball) cold and warm, two serve processes on one catalog (SQLite and PostgreSQL), and kill -9 mid-fetch.
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from "node:child_process"
import * as http from "node:http"
import { promisify } from "node:util"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { binPath, runCli, tempDir } from "../cli/helpers.js"
import { bytesOf, type TestServer } from "../support/servers.js"
import { get, hits, sha256Hex, upstream } from "./harness.js"

interface ServeProcess {
  readonly child: ChildProcess
  readonly origin: string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts `cargohold serve --listen 127.0.0.1:0` (one process unless `args` say otherwise) and waits for its address. */
const startServeProcess = (env: Record<string, string>, args: ReadonlyArray<string> = ["--workers", "1"]): Promise<ServeProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "serve", "--listen", "127.0.0.1:0", ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: env.CARGOHOLD_HOME!, ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000)
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
      const match = /serving on (http:\/\/[\d.:]+)/.exec(stderr)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, origin: match[1]!, stderr: () => stderr, exited })
      }
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${code}: ${stderr}`))
    })
  })

const small = bytesOf(50_000, 11)
const big = bytesOf(4 * 1024 * 1024, 12)
const bigSlow = bytesOf(4 * 1024 * 1024, 13)
const shared = bytesOf(3 * 1024 * 1024, 14)
const killed = bytesOf(4 * 1024 * 1024, 15)
const pooled = bytesOf(3 * 1024 * 1024, 16)
const draining = bytesOf(2 * 1024 * 1024, 17)
let up: TestServer
const running: Array<ServeProcess> = []
const dirs: Array<{ remove: () => void }> = []
let pg: PgDatabase | undefined
let tarball: Buffer

/** Runs a client without blocking this process (the upstream server lives here). */
const exec = promisify(execFile)

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0

beforeAll(async () => {
  // a package for npm to install, built by npm itself
  const pkg = tempDir("cargohold-pkg-")
  dirs.push(pkg)
  writeFileSync(join(pkg.path, "package.json"), JSON.stringify({ name: "cargohold-fixture", version: "1.0.0", main: "index.js" }))
  writeFileSync(join(pkg.path, "index.js"), "module.exports = 'served by cargohold'\n")
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", pkg.path], { cwd: pkg.path, encoding: "utf8" }).trim()
  tarball = readFileSync(join(pkg.path, packed))
  up = await upstream(
    new Map([
      ["/small", { body: small }],
      ["/big", { body: big, delayMs: 5 }],
      ["/big-slow", { body: bigSlow, delayMs: 30 }],
      ["/shared", { body: shared, delayMs: 20 }],
      ["/killed", { body: killed, delayMs: 60 }],
      ["/pkg.tgz", { body: tarball }],
      ["/pooled", { body: pooled, delayMs: 20 }],
      ["/draining", { body: draining, delayMs: 40 }]
    ])
  )
}, 60_000)

afterAll(async () => {
  for (const p of running) p.child.kill("SIGKILL")
  await up?.close()
  await pg?.drop()
  for (const d of dirs) d.remove()
})

/** A home with repository `r` declaring `units` on demand. */
const homeWith = async (units: ReadonlyArray<{ path: string; body: Buffer; url: string }>, catalog?: string) => {
  const home = tempDir("cargohold-serve-proc-")
  dirs.push(home)
  const env: Record<string, string> = { CARGOHOLD_HOME: home.path, ...(catalog === undefined ? {} : { CARGOHOLD_CATALOG: catalog }) }
  const created = await runCli(["repo", "create", "r"], { env })
  expect(created.code, created.stderr).toBe(0)
  const manifest = join(home.path, "m.jsonl")
  writeFileSync(manifest, units.map((u) => JSON.stringify({ url: up.url(u.url), path: u.path, sha256: sha256Hex(u.body), size: u.body.length })).join("\n"))
  const added = await runCli(["repo", "add", "r", "-i", manifest, "--on-demand"], { env })
  expect(added.code, added.stderr).toBe(0)
  return { home: home.path, env }
}

describe("serve with real clients", () => {
  it("curl, wget, aria2c (4 connections) and npm, cold and warm", async () => {
    const { home, env } = await homeWith([
      { path: "files/small.bin", body: small, url: "/small" },
      { path: "files/big.bin", body: big, url: "/big" },
      { path: "files/big-slow.bin", body: bigSlow, url: "/big-slow" },
      { path: "npm/cargohold-fixture-1.0.0.tgz", body: tarball, url: "/pkg.tgz" }
    ])
    const serve = await startServeProcess(env)
    running.push(serve)
    const out = join(home, "out")
    mkdirSync(out)
    for (const round of ["cold", "warm"]) {
      await exec("curl", ["-sSf", "-o", join(out, `curl-${round}`), `${serve.origin}/r/files/small.bin`])
      expect(sha256Hex(readFileSync(join(out, `curl-${round}`))), round).toBe(sha256Hex(small))
      if (has("wget")) {
        await exec("wget", ["-q", "-O", join(out, `wget-${round}`), `${serve.origin}/r/files/big.bin`])
        expect(sha256Hex(readFileSync(join(out, `wget-${round}`))), round).toBe(sha256Hex(big))
      } else {
        await exec("curl", ["-sSf", "-o", join(out, `wget-${round}`), `${serve.origin}/r/files/big.bin`])
      }
      // several connections: aria2c splits the file into ranges fetched in parallel (on the cold round, while
      // the server is still fetching it)
      await exec("aria2c", ["-q", "-x4", "-s4", "-k1M", "--allow-overwrite=true", "--auto-file-renaming=false", "-d", out, "-o", `aria2-${round}`, `${serve.origin}/r/files/big-slow.bin`])
      expect(sha256Hex(readFileSync(join(out, `aria2-${round}`))), round).toBe(sha256Hex(bigSlow))
      const project = join(out, `npm-${round}`)
      mkdirSync(project)
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "0.0.0", private: true }))
      await exec("npm", ["install", "--no-audit", "--no-fund", "--cache", join(out, `npm-cache-${round}`), `${serve.origin}/r/npm/cargohold-fixture-1.0.0.tgz`], {
        cwd: project,
        env: { ...process.env, npm_config_registry: `${serve.origin}/` }
      })
      expect(readFileSync(join(project, "node_modules/cargohold-fixture/index.js"), "utf8")).toContain("served by cargohold")
    }
    // each artifact came from upstream once, the warm round from the store
    for (const path of ["/small", "/big", "/big-slow", "/pkg.tgz"]) expect(hits(up, path), path).toBe(1)
    const ranged = serve.stderr().split("\n").filter((l) => l.includes("/r/files/big-slow.bin") && / 206 /.test(l))
    expect(ranged.length).toBeGreaterThan(0)
    serve.child.kill("SIGTERM")
    expect(await serve.exited).toBe(0)
  }, 180_000)
})

describe("two serve processes on one catalog", () => {
  for (const backend of ["sqlite", "postgresql"] as const) {
    it(`${backend}: both answer every request with the right bytes; the artifact is stored once and then served warm`, async () => {
      let catalog: string | undefined
      if (backend === "postgresql") {
        pg = pg ?? (await createPgDatabase("serve"))
        catalog = pg.url
      }
      const home = tempDir("cargohold-serve-two-")
      dirs.push(home)
      const env: Record<string, string> = { CARGOHOLD_HOME: home.path, ...(catalog === undefined ? {} : { CARGOHOLD_CATALOG: catalog }) }
      const name = `r${backend === "sqlite" ? "1" : "2"}`
      expect((await runCli(["repo", "create", name], { env })).code).toBe(0)
      const manifest = join(home.path, "m.jsonl")
      writeFileSync(manifest, JSON.stringify({ url: up.url("/shared"), path: "s.bin", sha256: sha256Hex(shared), size: shared.length }))
      const added = await runCli(["repo", "add", name, "-i", manifest, "--on-demand"], { env })
      expect(added.code, added.stderr).toBe(0)
      const before = hits(up, "/shared")
      const [a, b] = await Promise.all([startServeProcess(env), startServeProcess(env)])
      running.push(a!, b!)
      // eight cold requests at once, split across the two processes: one upstream fetch (a lease per artifact)
      const answers = await Promise.all([a!, b!, a!, b!, a!, b!, a!, b!].map((p) => get(`${p.origin}/${name}/s.bin`)))
      for (const got of answers) {
        expect(got.status).toBe(200)
        expect(got.complete).toBe(true)
        expect(sha256Hex(got.body)).toBe(sha256Hex(shared))
      }
      expect(hits(up, "/shared") - before).toBe(1)
      const warm = await Promise.all([a!, b!].map((p) => get(`${p.origin}/${name}/s.bin`)))
      for (const got of warm) expect(got.headers["x-cache"]).toBe("HIT")
      const where = await runCli(["whereis", sha256Hex(shared), "--json"], { env })
      const locations = (JSON.parse(where.stdout) as { locations: Array<unknown> }).locations
      expect(locations.length).toBe(1)
      a!.child.kill("SIGTERM")
      b!.child.kill("SIGTERM")
      expect(await Promise.all([a!.exited, b!.exited])).toEqual([0, 0])
    }, 120_000)
  }
})

describe("kill -9 mid-fetch", () => {
  it("leaves nothing stored or catalogued; after a restart the artifact is fetched whole and verified", async () => {
    const { home, env } = await homeWith([{ path: "k.bin", body: killed, url: "/killed" }])
    const first = await startServeProcess(env)
    running.push(first)
    const partial = new Promise<number>((resolve) => {
      const req = spawn("curl", ["-s", "-o", "/dev/null", `${first.origin}/r/k.bin`])
      req.on("exit", () => resolve(0))
    })
    for (let i = 0; i < 100 && hits(up, "/killed") === 0; i++) await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => setTimeout(r, 500)) // some bytes in
    first.child.kill("SIGKILL")
    await first.exited
    await partial
    const store = join(home, "store")
    const objects = readdirSync(store, { recursive: true }).filter((f) => String(f).includes(sha256Hex(killed)))
    expect(objects).toEqual([])
    // the dead process's lease is left behind; the next process judges its owner dead and takes it over
    expect(existsSync(join(home, "leases", `${sha256Hex(killed)}.lease`))).toBe(true)
    const whereBefore = await runCli(["whereis", sha256Hex(killed), "--json"], { env })
    const known = whereBefore.code === 0 ? (JSON.parse(whereBefore.stdout) as { locations: Array<unknown> }).locations : []
    expect(known).toEqual([])
    const second = await startServeProcess(env)
    running.push(second)
    // the dead process's temporary file is swept when the store opens
    const temps = existsSync(join(store, ".tmp")) ? readdirSync(join(store, ".tmp")) : []
    expect(temps).toEqual([])
    const got = await get(`${second.origin}/r/k.bin`)
    expect(got.status).toBe(200)
    expect(got.complete).toBe(true)
    expect(sha256Hex(got.body)).toBe(sha256Hex(killed))
    const where = await runCli(["whereis", sha256Hex(killed), "--json"], { env })
    expect((JSON.parse(where.stdout) as { locations: Array<{ state: string }> }).locations.map((l) => l.state)).toEqual(["ok"])
    second.child.kill("SIGTERM")
    await second.exited
  }, 120_000)
})

describe("serve --workers and shutdown", () => {
  it("--workers 2: cold requests over many connections share one upstream fetch; SIGTERM stops both workers, exit 0", async () => {
    const { env } = await homeWith([{ path: "p.bin", body: pooled, url: "/pooled" }])
    const serve = await startServeProcess(env, ["--workers", "2"])
    running.push(serve)
    expect(serve.stderr()).toContain("(2 workers)")
    // fresh connections: the primary hands them to the workers in turn, so both see some of these
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(`${serve.origin}/r/p.bin`)))
    for (const got of answers) {
      expect(got.status).toBe(200)
      expect(got.complete).toBe(true)
      expect(sha256Hex(got.body)).toBe(sha256Hex(pooled))
    }
    expect(hits(up, "/pooled")).toBe(1)
    serve.child.kill("SIGTERM")
    expect(await serve.exited).toBe(0)
  }, 120_000)

  for (const [signal, code] of [["SIGTERM", 0], ["SIGINT", 130]] as const) {
    it(`${signal} while a response streams: the response still ends whole, then the process exits ${code}`, async () => {
      const { env } = await homeWith([{ path: "d.bin", body: draining, url: "/draining" }])
      const serve = await startServeProcess(env)
      running.push(serve)
      // stored first, then read slowly: the response is in flight when the signal arrives
      expect((await get(`${serve.origin}/r/d.bin`)).status).toBe(200)
      const inFlight = new Promise<{ body: Buffer; complete: boolean }>((resolve, reject) => {
        const req = http.get(`${serve.origin}/r/d.bin`, { agent: false }, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => {
            chunks.push(c)
            res.pause()
            setTimeout(() => res.resume(), 30)
          })
          res.on("end", () => resolve({ body: Buffer.concat(chunks), complete: res.complete }))
          res.on("error", reject)
        })
        req.on("error", reject)
      })
      await new Promise((r) => setTimeout(r, 300))
      serve.child.kill(signal)
      const got = await inFlight
      expect(got.complete).toBe(true)
      expect(sha256Hex(got.body)).toBe(sha256Hex(draining))
      expect(await serve.exited).toBe(code)
      // and it no longer accepts
      await expect(get(`${serve.origin}/r/d.bin`)).rejects.toThrow()
    }, 120_000)
  }
})
