/**
 * Fault case "any local file copied into the store from a manifest" (issue 11, item 3): a `file://` URL typed on
 * the command line is the user's own choice; one from a manifest, a Metalink, the catalog or a remote is read only
 * under `--file-root DIR` (symlinks and `..` resolved, checked again on the opened descriptor); /proc, /sys and
 * /dev never; and the policy does not change when an unrelated network flag (`--idle-timeout`) is given.
 * Runs the built CLI against a real filesystem and a loopback HTTP server.
 */
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { InvalidRequest, TransferError } from "@cargohold/core"
import { makeFileSource } from "@cargohold/node"
import { Effect, Exit, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { filesUnder, jsonLines, runCli, serveFiles, sha256Hex, tempDir, type FileServer } from "../cli/helpers.js"

const dir = tempDir("cargohold-fileroots-")
const root = join(dir.path, "root")
const outside = join(dir.path, "outside")
const planted = "PLANTED-ENV-SECRET-6f1c2a"
const inside = join(root, "inside.bin")
const secretFile = join(outside, "secret.txt")
const url = (path: string) => pathToFileURL(path).href
let server: FileServer

beforeAll(async () => {
  mkdirSync(join(root, "sub"), { recursive: true })
  mkdirSync(outside)
  writeFileSync(inside, "bytes inside the root")
  writeFileSync(secretFile, "not for the store")
  symlinkSync(secretFile, join(root, "escape.txt"))
  symlinkSync("/proc/self/environ", join(root, "environ"))
  symlinkSync(outside, join(root, "outside-dir"))
  server = await serveFiles(new Map())
})
afterAll(async () => {
  await server.close()
  dir.remove()
})

let homes = 0
/** A fresh home per run: nothing one case stored helps the next. */
const freshHome = () => join(dir.path, `home-${++homes}`)

const fetchJson = async (args: ReadonlyArray<string>, input = "", home = freshHome()) => {
  const result = await runCli(["fetch", "--json", "--home", home, ...args], {
    env: { CARGOHOLD_PLANTED: planted },
    input
  })
  return { ...result, home, lines: result.stdout.trim() === "" ? [] : jsonLines(result.stdout) }
}

/** Every byte the home's store holds, as one string (to grep for what must not be there). */
const storeText = (home: string) =>
  filesUnder(join(home, "store"))
    .map((path) => readFileSync(path, "latin1"))
    .join("\n")

const manifest = (...urls: ReadonlyArray<string>) => urls.map((u) => JSON.stringify({ url: u })).join("\n")

describe("file:// policy (CLI)", () => {
  it("a manifest naming /proc/self/environ is refused before anything is read, with and without network flags", async () => {
    for (const extra of [[], ["--idle-timeout", "5"], ["--file-root", "/"]]) {
      const run = await fetchJson(["-i", "-", ...extra], manifest("file:///proc/self/environ"))
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/file:\/\/\/proc\/self\/environ/)
      expect(run.stderr).toMatch(/\/proc \(process state.*never read/)
      expect(storeText(run.home)).not.toContain(planted)
      expect(`${run.stdout}${run.stderr}`).not.toContain(planted)
      expect(`${run.stdout}${run.stderr}`).not.toMatch(/internal error|\n\s+at /)
    }
  })

  it("a symlink to /proc is refused even when typed on the command line or under a root", async () => {
    const typed = await fetchJson([url(join(root, "environ"))])
    expect(typed.code).toBe(1)
    expect(typed.lines[0]).toMatchObject({ status: "failed", error: { _tag: "InvalidRequest" } })
    expect(String((typed.lines[0]!.error as { message: string }).message)).toMatch(/resolves .* to \/proc\/.*never reads/)
    const rooted = await fetchJson(["-i", "-", "--file-root", root], manifest(url(join(root, "environ"))))
    expect(rooted.code).toBe(1)
    expect(storeText(typed.home) + storeText(rooted.home)).not.toContain(planted)
  })

  it("from a manifest: refused outside --file-root, whatever other flags; read under it", async () => {
    for (const extra of [[], ["--idle-timeout", "5"], ["--connect-timeout", "3", "--header", "X-A: b"]]) {
      const refused = await fetchJson(["-i", "-", ...extra], manifest(url(secretFile), url(inside)))
      expect(refused.code).toBe(1)
      expect(refused.lines).toHaveLength(2)
      for (const line of refused.lines) {
        expect(line).toMatchObject({ status: "failed", error: { _tag: "InvalidRequest" } })
        const message = (line.error as { message: string }).message
        expect(message).toContain(String(line.url))
        expect(message).toMatch(/outside the allowed roots.*pass --file-root DIR/)
      }
      expect(filesUnder(join(refused.home, "store"))).toEqual([])

      const allowed = await fetchJson(["-i", "-", "--file-root", root, ...extra], manifest(url(inside), url(secretFile)))
      expect(allowed.code).toBe(1)
      const byUrl = new Map(allowed.lines.map((line) => [line.url, line]))
      expect(byUrl.get(url(inside))).toMatchObject({ status: "ok", sha256: sha256Hex("bytes inside the root") })
      expect(byUrl.get(url(secretFile))).toMatchObject({ status: "failed", error: { _tag: "InvalidRequest" } })
      expect(storeText(allowed.home)).not.toContain("not for the store")
    }
  })

  it("symlinks and .. out of a root are resolved before the check", async () => {
    const viaLink = await fetchJson(
      ["-i", "-", "--file-root", root],
      manifest(url(join(root, "escape.txt")), `${url(root)}/outside-dir/secret.txt`, `${url(root)}/sub/../../outside/secret.txt`)
    )
    expect(viaLink.code).toBe(1)
    expect(viaLink.lines).toHaveLength(3)
    for (const line of viaLink.lines) expect(line).toMatchObject({ status: "failed", error: { _tag: "InvalidRequest" } })
    expect(storeText(viaLink.home)).toBe("")
  })

  it("typed on the command line: the user's choice, with or without network flags", async () => {
    for (const extra of [[], ["--idle-timeout", "5"]]) {
      const run = await fetchJson([url(secretFile), ...extra])
      expect(run.code).toBe(0)
      expect(run.lines[0]).toMatchObject({ status: "ok", sha256: sha256Hex("not for the store") })
    }
    const typedProc = await fetchJson(["file:///proc/self/environ", "--idle-timeout", "5"])
    expect(typedProc.code).toBe(2)
    expect(typedProc.stderr).toMatch(/never read/)
    expect(storeText(typedProc.home)).not.toContain(planted)
  })

  it("a file:// source the catalog knows is data: used only under --file-root", async () => {
    const home = freshHome()
    const sha256 = sha256Hex("not for the store")
    const declared = await runCli(["sources", "add", sha256, url(secretFile), "--home", home])
    expect(declared.code).toBe(0)
    // the typed URL fails (404), and the catalog's file:// source is not read without a root
    const refused = await fetchJson([server.url("/missing.bin"), "--sha256", sha256], "", home)
    expect(refused.code).toBe(1)
    expect(refused.lines[0]).toMatchObject({ status: "failed" })
    expect(storeText(home)).toBe("")
    const allowed = await fetchJson([server.url("/missing.bin"), "--sha256", sha256, "--file-root", outside], "", home)
    expect(allowed.code).toBe(0)
    expect(allowed.lines[0]).toMatchObject({ status: "ok", sha256 })
  })
})

describe("file:// policy (FileSource)", () => {
  it("a folder swapped for a symlink between the check and the open is caught on the descriptor", async () => {
    const scratch = join(dir.path, "swap")
    const swapRoot = join(scratch, "root")
    const away = join(scratch, "away")
    mkdirSync(join(swapRoot, "pkgs"), { recursive: true })
    mkdirSync(away)
    writeFileSync(join(swapRoot, "pkgs", "a.bin"), "first bytes")
    const source = await Effect.runPromise(makeFileSource({ roots: [swapRoot] }))
    const opened = await Effect.runPromise(source.open(url(join(swapRoot, "pkgs", "a.bin")), 0))
    // same inode, now outside the root, reached through a symlink where the folder was
    renameSync(join(swapRoot, "pkgs"), join(away, "pkgs"))
    symlinkSync(join(away, "pkgs"), join(swapRoot, "pkgs"))
    const exit = await Effect.runPromiseExit(Stream.runDrain(opened.body))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
      expect(exit.cause.error).toBeInstanceOf(TransferError)
      expect(exit.cause.error.message).toMatch(/refused once opened: .*outside the allowed roots/)
    } else throw new Error("expected a typed failure")
  })

  it("data access is the default; a typed URL reaches any regular file but never /proc", async () => {
    const source = await Effect.runPromise(makeFileSource({ roots: [root] }))
    const refused = await Effect.runPromise(Effect.flip(source.open(url(secretFile), 0)))
    expect(refused).toBeInstanceOf(InvalidRequest)
    const typed = await Effect.runPromise(source.open(url(secretFile), 0, { chosenByUser: true }))
    expect(typed.size).toBe("not for the store".length)
    const proc = await Effect.runPromise(Effect.flip(source.open(url(join(root, "environ")), 0, { chosenByUser: true })))
    expect(proc.reason).toMatch(/\/proc/)
  })
})
