/**
 * The build's last step (`npm run build`): makes dist/cargohold.cjs.cache by training, that is by running the CLI
 * on small real jobs so the cache holds the functions a start-up and a small fetch actually compile. (A cache made
 * right after compiling holds only the top-level code: V8 compiles functions lazily, when first called.)
 *
 * The jobs run one after another (makeCodeCache.ts), each reading the cache the previous one wrote and writing it
 * again at exit with what it compiled too: `--version`, `--help`, a file:// fetch, and an http:// batch from a
 * loopback server (the common case: undici, the manifest parser, the store, the catalog). The training's children
 * get no NODE_OPTIONS: the cache is for a plain `cargohold` (any other node flags make it ignored, see
 * codeCacheFiles.ts). Finally a `cargohold --version` must report the cache accepted; otherwise there is no cache
 * file, and the CLI runs as without one. A training that fails warns and leaves no cache: the build goes on.
 */
import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { defaultBundlePath } from "./bundleScript.js"
import { codeCachePath } from "./codeCacheFiles.js"

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))
const makeCodeCache = here("./makeCodeCache.js")
const bin = here("../../bin/cargohold.js")

interface Ran {
  readonly code: number | null
  readonly stderr: string
}

/** Runs node with `args`; the environment is `env` alone (no NODE_OPTIONS, no inherited cargohold settings). */
const node = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stderr }))
  })

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** A loopback server answering GET /NAME with `files[NAME]`, 404 otherwise. */
const serve = (files: ReadonlyMap<string, Buffer>): Promise<Server> =>
  new Promise((resolve) => {
    const server = createServer((request, response) => {
      const body = files.get((request.url ?? "").slice(1))
      if (body === undefined) response.writeHead(404).end()
      else response.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" }).end(body)
    })
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

const train = async (work: string): Promise<string> => {
  const cache = join(work, "training.cache")
  const env = { PATH: process.env.PATH ?? "", HOME: work, CARGOHOLD_HOME: join(work, "home") }
  const one = randomBytes(16 * 1024)
  const oneFile = join(work, "one.bin")
  writeFileSync(oneFile, one)
  const files = new Map([1, 2, 3].map((n) => [`f${n}.bin`, randomBytes(16 * 1024)] as const))
  const server = await serve(files)
  try {
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const manifest = join(work, "manifest.jsonl")
    const lines = [...files].map(([name, body]) => JSON.stringify({ url: `${origin}/${name}`, sha256: sha256(body), size: body.length }))
    writeFileSync(manifest, `${lines.join("\n")}\n`)
    const jobs: ReadonlyArray<ReadonlyArray<string>> = [
      ["--version"],
      ["--help"],
      ["fetch", pathToFileURL(oneFile).href, "--sha256", sha256(one), "--size", String(one.length)],
      ["fetch", "--home", join(work, "batch"), "-i", manifest]
    ]
    for (const job of jobs) {
      const ran = await node([makeCodeCache, cache, ...job], env)
      if (ran.code !== 0) throw new Error(`cargohold ${job.join(" ")} exited ${ran.code}: ${ran.stderr.trim()}`)
    }
  } finally {
    server.close()
  }
  if (!existsSync(cache)) throw new Error("the training runs wrote no cache")
  return cache
}

/** Trains a cache for `bundle` and installs it next to it; returns its size in bytes. */
export const trainCodeCache = async (bundle = defaultBundlePath): Promise<number> => {
  const target = codeCachePath(bundle)
  rmSync(target, { force: true })
  const work = mkdtempSync(join(tmpdir(), "cargohold-train-"))
  try {
    mkdirSync(join(work, "home"))
    const cache = await train(work)
    renameSync(cache, target)
    const check = await node([bin, "--version"], { PATH: process.env.PATH ?? "", HOME: work, CARGOHOLD_CODE_CACHE: "debug" })
    if (check.code !== 0 || !check.stderr.includes("code cache accepted")) {
      rmSync(target, { force: true })
      throw new Error(`the trained cache is not accepted: ${check.stderr.trim()}`)
    }
    return statSync(target).size
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  trainCodeCache().then(
    (size) => process.stderr.write(`cargohold: code cache ${codeCachePath(defaultBundlePath)} (${size} bytes)\n`),
    (error: unknown) => process.stderr.write(`cargohold: warning: no code cache (the CLI runs without one): ${String(error)}\n`)
  )
}
