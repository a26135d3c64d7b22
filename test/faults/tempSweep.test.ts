/**
 * Temp files of dead processes: the next process that opens the store removes them (by owner, not by age) and never
 * touches those of a live process. Real processes killed with SIGKILL; the built CLI on a batch against a slow
 * loopback server, killed mid-way, then run again.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { makeFileStorage } from "@cargohold/node"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath, bytesOf, jsonLines, repoRoot, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { startServer, type TestServer } from "../support/servers.js"

const scratch = tempDir("cargohold-faults-sweep-")
const children = new Set<ChildProcess>()

afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
  scratch.remove()
})

/** Starts a process holding one temp file of the store at `root`; resolves with its temp file's name. */
const holdTemp = async (root: string): Promise<{ child: ChildProcess; name: string }> => {
  const before = new Set(existsSync(join(root, ".tmp")) ? readdirSync(join(root, ".tmp")) : [])
  const child = spawn(process.execPath, ["--import", "tsx", "test/faults/tempHolder.ts", root], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "inherit"]
  })
  children.add(child)
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.once("line", resolve)
    child.once("exit", (code) => reject(new Error(`holder exited early (${code})`)))
  })
  const name = line.split(",").find((n) => !before.has(n))
  if (name === undefined) throw new Error(`no new temp file in ${line}`)
  return { child, name }
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

const open = (root: string) => Effect.runPromise(makeFileStorage({ root, minFreeBytes: 0 }))

describe("temp files after kill -9", () => {
  it("opening the store removes those of dead processes only; a live one's stays; unknown owners go by age", async () => {
    const root = join(scratch.path, "store-owners")
    const dead = await holdTemp(root)
    const live = await holdTemp(root)
    await killed(dead.child)
    const tmp = join(root, ".tmp")
    const scope = live.name.split("-")[0]!
    // this test's own pid with a start time it never had: the file of an earlier process that had this pid
    const reused = `${scope}-${process.pid}-zzzzzz-${randomUUID()}.part`
    // owners this process cannot judge (another host or container, an older name): kept while young, swept when old
    const foreignYoung = `deadbeef-1-0-${randomUUID()}.part`
    const foreignOld = `deadbeef-1-0-${randomUUID()}.part`
    const olderFormat = `${Date.now().toString(36)}-${randomUUID()}.part`
    for (const name of [reused, foreignYoung, foreignOld, olderFormat]) writeFileSync(join(tmp, name), "x")
    const twoDaysAgo = (Date.now() - 2 * 24 * 3600 * 1000) / 1000
    utimesSync(join(tmp, foreignOld), twoDaysAgo, twoDaysAgo)

    expect(readdirSync(tmp)).toContain(dead.name)
    await open(root)
    const left = readdirSync(tmp).filter((n) => n.endsWith(".part")).sort()
    expect(left).toEqual([foreignYoung, live.name, olderFormat].sort())

    // the live one dies too: the next opening removes its file
    await killed(live.child)
    await open(root)
    expect(readdirSync(tmp).filter((n) => n.endsWith(".part")).sort()).toEqual([foreignYoung, olderFormat].sort())
  })
})

describe("kill -9 of the CLI mid-batch, then the same batch again", () => {
  const bodies = Array.from({ length: 8 }, (_, i) => bytesOf(1024 * 1024 + i * 1000, 40 + i))
  let server: TestServer
  let slow = true
  beforeAll(async () => {
    server = await startServer((request, response) => {
      const i = Number(/\/a(\d+)\.bin$/.exec(request.url ?? "")?.[1])
      const body = bodies[i]
      if (body === undefined) return void response.writeHead(404).end()
      response.writeHead(200, { "content-length": String(body.length) })
      if (!slow) return void response.end(body)
      // a trickle: 64 KiB every 200 ms, bounded by the body's length (≈ 3 s per body)
      let at = 0
      const timer = setInterval(() => {
        if (response.destroyed || at >= body.length) {
          clearInterval(timer)
          if (!response.destroyed) response.end()
          return
        }
        response.write(body.subarray(at, at + 64 * 1024))
        at += 64 * 1024
      }, 200)
      response.on("close", () => clearInterval(timer))
    })
  })
  afterAll(() => server.close())

  it("leaves temp files behind; the rerun removes them, stores every artifact, and verify finds all ok", async () => {
    const home = join(scratch.path, "home-kill")
    mkdirSync(home)
    const args = ["fetch", "--json", "--home", home, ...bodies.map((_, i) => server.url(`/a${i}.bin`))]
    const child = spawn(process.execPath, [binPath, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: home },
      stdio: "ignore"
    })
    children.add(child)
    const tmp = join(home, "store", ".tmp")
    // wait (bounded) until the batch has temp files with bytes in them
    for (let i = 0; i < 100 && !(existsSync(tmp) && readdirSync(tmp).some((n) => n.endsWith(".part"))); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
    await killed(child)
    const leftover = readdirSync(tmp).filter((n) => n.endsWith(".part"))
    expect(leftover.length).toBeGreaterThan(0)

    slow = false
    const again = await runCli(args, { env: { HOME: home } })
    expect(again.stderr).not.toContain("internal error")
    expect(again.code).toBe(0)
    const lines = jsonLines(again.stdout)
    expect(lines.map((l) => l.status)).toEqual(bodies.map(() => "ok"))
    expect(lines.map((l) => l.sha256).sort()).toEqual(bodies.map((b) => sha256Hex(b)).sort())
    expect(readdirSync(tmp).filter((n) => n.endsWith(".part"))).toEqual([])
    const verify = await runCli(["verify", "--json", "--home", home], { env: { HOME: home } })
    expect(verify.code).toBe(0)
    const verdicts = jsonLines(verify.stdout)
    expect(verdicts.length).toBe(8)
    expect(verdicts.every((v) => v.state === "ok")).toBe(true)
  })
})
