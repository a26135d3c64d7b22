/**
 * No input or environment makes the built CLI print "internal error", a stack trace or its bundle's source: many
 * failing cases, every output grepped. Real loopback server; stdout on /dev/full for the output failures.
 */
import { spawn } from "node:child_process"
import { closeSync, openSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath, type FileServer, runCli, serveFiles, sha256Hex, tempDir } from "../cli/helpers.js"

const scratch = tempDir("cargohold-faults-nocrash-")
const body = Buffer.from("a stored artifact\n")
let files: FileServer
const home = join(scratch.path, "home")
const env = { CARGOHOLD_HOME: home, HOME: scratch.path }

beforeAll(async () => {
  files = await serveFiles(new Map([["/a.txt", body]]))
  const fetched = await runCli(["fetch", files.url("/a.txt")], { env })
  expect(fetched.code).toBe(0)
})
afterAll(async () => {
  await files.close()
  scratch.remove()
})

/** What must never appear: the last resort's words, stack frames, bundle source. */
const crashSigns = (output: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (/internal error|failed unexpectedly/i.test(output)) found.push("internal error")
  if (/^\s+at .+(:\d+:\d+\)?|\(native\))$/m.test(output)) found.push("stack frame")
  if (/dist\/cargohold\.js|=>\{|function\(|Node\.js v\d+/.test(output)) found.push("bundle source")
  if (output.split("\n").some((line) => line.length > 2000)) found.push("a line of more than 2,000 characters")
  return found
}

/** Runs the CLI with stdout on /dev/full. */
const runToFull = (args: ReadonlyArray<string>): Promise<{ code: number | null; stderr: string }> =>
  new Promise((resolve) => {
    const full = openSync("/dev/full", "w")
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", full, "pipe"] })
    closeSync(full)
    let stderr = ""
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("close", (code) => resolve({ code, stderr }))
  })

const sha = sha256Hex(body)
const unknown = sha256Hex("never stored")
const garbage = join(scratch.path, "garbage.txt")

const cases: ReadonlyArray<{ readonly name: string; readonly args: ReadonlyArray<string>; readonly env?: Record<string, string> }> = [
  { name: "refused connection", args: ["fetch", "--retries", "0", "http://127.0.0.1:1/x"] },
  { name: "not a URL", args: ["fetch", "::::"] },
  { name: "unknown scheme", args: ["fetch", "gopher://127.0.0.1/x"] },
  { name: "bad --max-size", args: ["fetch", "--max-size", "huge", "http://127.0.0.1:1/x"] },
  { name: "bad sha256", args: ["fetch", "--sha256", "zz", "http://127.0.0.1:1/x"] },
  { name: "unknown option", args: ["fetch", "--no-such-flag", "http://127.0.0.1:1/x"] },
  { name: "unknown command", args: ["frobnicate"] },
  { name: "missing manifest", args: ["fetch", "-i", join(scratch.path, "missing.txt")] },
  { name: "garbage manifest", args: ["fetch", "-i", garbage] },
  { name: "whereis unknown", args: ["whereis", unknown] },
  { name: "cat unknown", args: ["cat", unknown] },
  { name: "cat not a digest", args: ["cat", "not-a-digest"] },
  { name: "export unknown", args: ["export", unknown, join(scratch.path, "out.bin")] },
  { name: "export into a missing folder", args: ["export", sha, join(scratch.path, "no", "such", "dir", "out.bin")] },
  { name: "verify unknown", args: ["verify", unknown] },
  { name: "replicate to a bad URL", args: ["replicate", sha, "--to", "nope://x"] },
  { name: "bad catalog URL", args: ["ls", "--catalog", "mysql://x"] },
  { name: "bad store URL", args: ["ls", "--store", "file://remote-host/x"] },
  { name: "bad CARGOHOLD_MIN_FREE", args: ["ls"], env: { CARGOHOLD_MIN_FREE: "plenty" } }
]

describe("the CLI never crashes visibly", () => {
  it.each(cases)("$name: a clear failure, no internal error, stack or source", async ({ args, env: extra }) => {
    writeFileSync(garbage, "\u0000\u0001 not a manifest \u001b[31m\n{\n")
    const result = await runCli(args, { env: { ...env, ...extra } })
    expect(result.code === 1 || result.code === 2).toBe(true)
    expect(result.stderr.trim().length).toBeGreaterThan(0)
    expect(crashSigns(result.stdout + result.stderr)).toEqual([])
  })

  it.each([
    ["cat", sha],
    ["ls"],
    ["whereis", sha],
    ["--help"]
  ])("%s with stdout on /dev/full: one line, exit 1", async (...args) => {
    const result = await runToFull(args)
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split("\n")).toEqual(["cargohold: cannot write to standard output: no space left on device (ENOSPC)"])
    expect(crashSigns(result.stderr)).toEqual([])
  })
})
