/**
 * Helpers of the CLI tests: run the built `cargohold` binary as a child process (asynchronously, so the test's
 * own HTTP server keeps answering), and a loopback HTTP server with per-path request counts.
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const repoRoot = resolve(import.meta.dirname, "../..")
export const binPath = join(repoRoot, "packages/cli/bin/cargohold.js")

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

/** Deterministic pseudo-random bytes. */
export const bytesOf = (size: number, seed = 1): Buffer => {
  const out = Buffer.alloc(size)
  let x = seed * 2654435761
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  /** stdout as raw bytes (`cat`). */
  readonly stdoutBytes: Buffer
  readonly stderr: string
}

/** Runs `cargohold args…` with `env` added to a clean environment (no proxies, no inherited home). */
export const runCli = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Readonly<Record<string, string>>
    readonly input?: string
    readonly cwd?: string
    /** SIGKILL the CLI after this long (a hang then shows as `code: null`) */
    readonly killAfterMs?: number
    /** another copy of bin/cargohold.js to run (default `binPath`) */
    readonly bin?: string
    /** node flags before the bin */
    readonly nodeArgs?: ReadonlyArray<string>
  } = {}
): Promise<CliResult> =>
  new Promise((resolvePromise, reject) => {
    const bin = options.bin ?? binPath
    if (!existsSync(bin)) reject(new Error(`${bin} is missing: run \`npm run build\` first`))
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() }
    const argv = [...(options.nodeArgs ?? []), bin, ...args]
    const child = spawn(process.execPath, argv, { env: { ...env, ...options.env }, stdio: "pipe", cwd: options.cwd })
    const killer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs)
    const out: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(killer)
      const stdoutBytes = Buffer.concat(out)
      resolvePromise({ code, stdout: stdoutBytes.toString("utf8"), stdoutBytes, stderr })
    })
    child.stdin.end(options.input ?? "")
  })

/** The JSON objects of `--json` output, one per line. */
export const jsonLines = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)

/** A fresh temporary folder. */
export const tempDir = (prefix = "cargohold-cli-"): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * Every regular file below `dir` (none when it does not exist), except a store's layout file (`.layout`: it says
 * how the store shards its objects and is not one of them).
 */
export const filesUnder = (dir: string): Array<string> => {
  if (!existsSync(dir)) return []
  const out: Array<string> = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === ".layout") continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesUnder(path))
    else if (statSync(path).isFile()) out.push(path)
  }
  return out
}

export interface FileServer {
  readonly url: (path: string) => string
  /** Requests seen per path. */
  readonly hits: Map<string, number>
  /** Every request's headers, in order. */
  readonly seen: Array<{ readonly path: string; readonly headers: http.IncomingHttpHeaders }>
  readonly close: () => Promise<void>
}

/** Serves `files` (path → body) on 127.0.0.1, 404 for anything else. */
export const serveFiles = async (files: ReadonlyMap<string, Uint8Array>): Promise<FileServer> => {
  const hits = new Map<string, number>()
  const seen: Array<{ path: string; headers: http.IncomingHttpHeaders }> = []
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    seen.push({ path, headers: request.headers })
    const body = files.get(path)
    if (body === undefined) {
      response.writeHead(404, { "content-length": "0" }).end()
      return
    }
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) })
    response.end(body)
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    seen,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections()
        server.close(() => done())
      })
  }
}
