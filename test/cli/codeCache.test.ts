/**
 * The CLI's V8 code cache (packages/cli/src/launch/): the build's cache is accepted; a damaged, truncated, stale or
 * foreign cache is ignored (CARGOHOLD_CODE_CACHE=debug says why) and the CLI still answers correctly;
 * CARGOHOLD_CODE_CACHE=off; and the outputs are the same with and without the cache. Real processes throughout; the
 * tests that spoil a cache do it in a copy of the launcher, bundle and cache (inside the package, so node_modules
 * resolve as for the real one), never in the build's own files.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import * as vm from "node:vm"
import { bytesOf, type CliResult, repoRoot, runCli, sha256Hex, tempDir } from "./helpers.js"

const cli = join(repoRoot, "packages/cli")
const cacheFile = (root: string) => join(root, "dist/cargohold.cjs.cache")
const debug = { CARGOHOLD_CODE_CACHE: "debug" }

/** The launcher's line about the cache (CARGOHOLD_CODE_CACHE=debug), and stderr without it. */
const cacheLine = (result: CliResult): string => result.stderr.split("\n").find((line) => line.startsWith("cargohold: code cache")) ?? ""
const otherStderr = (result: CliResult): string =>
  result.stderr
    .split("\n")
    .filter((line) => !line.startsWith("cargohold: code cache"))
    .join("\n")

let copies: string
let homes: Array<{ remove: () => void }> = []
const freshHome = () => {
  const home = tempDir()
  homes.push(home)
  return home.path
}

/** A copy of bin/, the launcher, the bundle and its cache: its bin, and its cache file for spoiling. */
const copy = (): { readonly bin: string; readonly cache: string; readonly root: string } => {
  const root = mkdtempSync(join(copies, "copy-"))
  mkdirSync(join(root, "dist"))
  cpSync(join(cli, "bin"), join(root, "bin"), { recursive: true })
  cpSync(join(cli, "dist/launch"), join(root, "dist/launch"), { recursive: true })
  for (const name of ["cargohold.cjs", "cargohold.cjs.cache"]) cpSync(join(cli, "dist", name), join(root, "dist", name))
  return { bin: join(root, "bin/cargohold.js"), cache: cacheFile(root), root }
}

/** A cache file's parts: the header's two lines, and V8's bytes. */
const split = (file: Buffer): { readonly magic: string; readonly header: Record<string, unknown>; readonly data: Buffer } => {
  const first = file.indexOf(0x0a)
  const second = file.indexOf(0x0a, first + 1)
  return {
    magic: file.subarray(0, first + 1).toString("latin1"),
    header: JSON.parse(file.subarray(first + 1, second).toString("utf8")) as Record<string, unknown>,
    data: file.subarray(second + 1)
  }
}
const join3 = (magic: string, header: Record<string, unknown>, data: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from(`${magic}${JSON.stringify(header)}\n`), data])

const small = bytesOf(16 * 1024, 7)
let smallUrl: string
let work: { readonly path: string; readonly remove: () => void }

/** What `cargohold ARGS` prints, made comparable: the home's path and the summary's timing replaced. */
const outputs = async (args: (home: string) => ReadonlyArray<string>, env: Readonly<Record<string, string>>) => {
  const home = freshHome()
  const result = await runCli(args(home), { env })
  const comparable = (text: string) => text.split(home).join("HOME").replace(/ in [\d.]+m?s \([^)]*\/s\)/g, " in T")
  return { code: result.code, stdout: comparable(result.stdout), stderr: comparable(otherStderr(result)) }
}

beforeAll(() => {
  copies = mkdtempSync(join(cli, "dist/.code-cache-test-"))
  work = tempDir()
  const file = join(work.path, "small.bin")
  writeFileSync(file, small)
  smallUrl = pathToFileURL(file).href
})

afterAll(() => {
  rmSync(copies, { recursive: true, force: true })
  work.remove()
  for (const home of homes) home.remove()
  homes = []
})

describe("the CLI's code cache", () => {
  it("the build's cache is accepted", async () => {
    const result = await runCli(["--version"], { env: debug })
    expect(result.code).toBe(0)
    expect(cacheLine(result)).toMatch(/^cargohold: code cache accepted \(\d+ bytes\)$/)
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it("the outputs are the same with and without the cache: --version, --help, a file:// fetch", async () => {
    const fetch = (home: string) => ["fetch", smallUrl, "--sha256", sha256Hex(small), "--size", String(small.length), "--home", home]
    const fetchJson = (home: string) => [...fetch(home), "--json"]
    for (const args of [() => ["--version"], () => ["--help"], () => ["fetch", "--help"], fetch, fetchJson]) {
      const withCache = await outputs(args, debug)
      const without = await outputs(args, { CARGOHOLD_CODE_CACHE: "off" })
      expect(withCache.code).toBe(0)
      expect(without).toEqual(withCache)
    }
    const fetched = await outputs(fetchJson, {})
    expect(fetched.stdout).toContain(sha256Hex(small))
  })

  it("CARGOHOLD_CODE_CACHE=off: no cache, the same answers, nothing on stderr", async () => {
    const result = await runCli(["--version"], { env: { CARGOHOLD_CODE_CACHE: "off" } })
    expect(result.code).toBe(0)
    expect(result.stderr).toBe("")
    const reference = await runCli(["--version"])
    expect(result.stdout).toBe(reference.stdout)
  })

  it("a damaged, truncated or missing cache is ignored and the CLI answers as usual", async () => {
    const reference = await runCli(["--version"])
    const original = readFileSync(cacheFile(cli))
    const { magic, header, data } = split(original)
    const flipped = Buffer.from(data)
    for (let i = 64; i < flipped.length; i += 4096) flipped[i] = (flipped[i] ?? 0) ^ 0xff
    const spoiled: ReadonlyArray<readonly [string, Buffer | undefined, RegExp]> = [
      ["bytes flipped", join3(magic, header, flipped), /ignored: damaged/],
      ["truncated", original.subarray(0, Math.floor(original.length / 2)), /ignored: damaged/],
      ["header cut", original.subarray(0, magic.length + 10), /ignored: damaged header/],
      ["empty", Buffer.alloc(0), /ignored: not a cache file/],
      ["garbage", bytesOf(100_000, 3), /ignored: not a cache file/],
      ["missing", undefined, /ignored: no cache file/]
    ]
    for (const [what, bytes, said] of spoiled) {
      const target = copy()
      if (bytes === undefined) rmSync(target.cache)
      else writeFileSync(target.cache, bytes)
      const result = await runCli(["--version"], { env: debug, bin: target.bin })
      expect({ what, line: cacheLine(result) }).toEqual({ what, line: expect.stringMatching(said) })
      expect(result.code).toBe(0)
      expect(result.stdout).toBe(reference.stdout)
    }
  })

  it("a cache V8 refuses (its header right, its bytes another script's) is compiled without", async () => {
    const target = copy()
    const { magic, header } = split(readFileSync(target.cache))
    const script = new vm.Script("(function () { return 1 })", { filename: "other.js" })
    const foreign = script.createCachedData()
    writeFileSync(target.cache, join3(magic, { ...header, cacheBytes: foreign.length, cacheSha256: sha256Hex(foreign) }, foreign))
    const result = await runCli(["--version"], { env: debug, bin: target.bin })
    expect(cacheLine(result)).toBe("cargohold: code cache rejected by V8")
    expect(result.code).toBe(0)
    expect(result.stdout).toBe((await runCli(["--version"])).stdout)
  })

  it("a cache made by another node, under other node flags or for another bundle is ignored", async () => {
    const reference = await runCli(["--version"])
    const check = async (
      target: { readonly bin: string },
      said: RegExp,
      extra: { readonly nodeArgs?: ReadonlyArray<string>; readonly env?: Record<string, string> } = {}
    ) => {
      const result = await runCli(["--version"], { bin: target.bin, nodeArgs: extra.nodeArgs ?? [], env: { ...debug, ...extra.env } })
      expect(cacheLine(result)).toMatch(said)
      expect(result.code).toBe(0)
      expect(result.stdout).toBe(reference.stdout)
    }
    const otherNode = copy()
    const parts = split(readFileSync(otherNode.cache))
    writeFileSync(otherNode.cache, join3(parts.magic, { ...parts.header, node: "v19.0.0", v8: "10.7.193.13" }, parts.data))
    await check(otherNode, /ignored: made by node v19\.0\.0/)
    const otherArch = copy()
    writeFileSync(otherArch.cache, join3(parts.magic, { ...parts.header, arch: "s390x" }, parts.data))
    await check(otherArch, /ignored: made on/)
    const flags = copy()
    await check(flags, /ignored: made under other node flags/, { nodeArgs: ["--max-old-space-size=300"] })
    await check(flags, /ignored: made under other node flags/, { env: { NODE_OPTIONS: "--max-semi-space-size=8" } })
    await check(flags, /accepted/)
    const otherBundle = copy()
    writeFileSync(join(otherBundle.root, "dist/cargohold.cjs"), `${readFileSync(join(cli, "dist/cargohold.cjs"), "utf8")}\n// changed\n`)
    await check(otherBundle, /ignored: made for another bundle/)
  })
})
