/**
 * Runs the bundled CLI (dist/cargohold.cjs) as Node would run a CommonJS file, but compiled by `vm.Script` with a
 * V8 code cache, so a start-up does not parse and compile the few thousand functions it runs: about half of a
 * `cargohold --version` was compiling the 3.5 MB bundle.
 *
 * Node 20 gives an ES module no code cache (and `module.enableCompileCache` arrived in Node 22), hence a CommonJS
 * bundle and this loader. The script is wrapped as Node's CommonJS loader wraps a file, with the same five
 * parameters, so the bundle cannot tell the difference; the wrapper's head is on the bundle's first line, which is
 * esbuild's banner, so the lines of stack traces stay the bundle's.
 *
 * The cache (made by the build, see trainCodeCache.ts) is checked by codeCacheFiles.ts before V8 sees it; when it
 * is missing, damaged, made for something else or rejected by V8, the bundle is compiled without it: slower, never
 * wrong. CARGOHOLD_CODE_CACHE=off does without it; =debug says on stderr what became of it.
 */
import { readFileSync, writeSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"
import { type CacheOrigin, type CacheRead, codeCachePath, currentOrigin, readCodeCache, sha256Hex, writeCodeCache } from "./codeCacheFiles.js"
import { setCliV8Flags } from "./v8Flags.js"

/** The bundle bin/cargohold.js runs (this file is dist/launch/bundleScript.js). */
export const defaultBundlePath = fileURLToPath(new URL("../cargohold.cjs", import.meta.url))

export type CacheMode = "on" | "off" | "debug"

/** CARGOHOLD_CODE_CACHE: `off`, `debug`, anything else (or unset) is on. */
export const cacheMode = (value: string | undefined): CacheMode => (value === "off" ? "off" : value === "debug" ? "debug" : "on")

export interface RunOptions {
  readonly bundlePath?: string
  /** The cache file read (default: next to the bundle). */
  readonly cachePath?: string
  /** Training: write the cache to this file when the process exits (with what was compiled by then). */
  readonly produce?: string
  readonly mode?: CacheMode
}

const wrapperHead = "(function (exports, require, module, __filename, __dirname) { "
const wrapperTail = "\n})"

/**
 * `import()` in the bundle (there is none today: bundle.mjs turns the sources' into plain calls) would need a loader
 * hook on a `vm.Script`; Node ≥ 20.12 has the main context's own. Older Node: undefined, `import()` would throw.
 */
const dynamicImport = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER

const compile = (source: string, filename: string, cachedData: Buffer | undefined): vm.Script =>
  new vm.Script(wrapperHead + source + wrapperTail, {
    filename,
    ...(cachedData === undefined ? {} : { cachedData }),
    ...(dynamicImport === undefined ? {} : { importModuleDynamically: dynamicImport })
  })

const say = (mode: CacheMode, text: string): void => {
  if (mode === "debug") writeSync(2, `cargohold: code cache ${text}\n`)
}

type Wrapped = (this: unknown, exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void

/** Compiles and runs the bundle (with its code cache when that is usable); the CLI then runs as usual. */
export const runBundle = (options: RunOptions = {}): void => {
  const filename = options.bundlePath ?? defaultBundlePath
  const cachePath = options.cachePath ?? codeCachePath(filename)
  const mode = options.mode ?? cacheMode(process.env.CARGOHOLD_CODE_CACHE)
  // Before compiling: the cache was made under these flags (see v8Flags.ts)
  setCliV8Flags()
  const bytes = readFileSync(filename)
  const source = bytes.toString("utf8")
  const origin: CacheOrigin | undefined =
    mode === "off" && options.produce === undefined ? undefined : currentOrigin(sha256Hex(bytes))
  const read: CacheRead =
    mode === "off" || origin === undefined ? { _tag: "Ignored", why: "off" } : readCodeCache(cachePath, origin)
  let script: vm.Script
  if (read._tag === "Found") {
    try {
      script = compile(source, filename, read.data)
      say(mode, script.cachedDataRejected === true ? "rejected by V8" : `accepted (${read.data.length} bytes)`)
    } catch (error) {
      say(mode, `failed (${String(error)})`)
      script = compile(source, filename, undefined)
    }
  } else {
    say(mode, read.why === "off" ? "off" : `ignored: ${read.why}`)
    script = compile(source, filename, undefined)
  }
  if (options.produce !== undefined && origin !== undefined) {
    const out = options.produce
    const made = script
    process.on("exit", () => writeCodeCache(out, made.createCachedData(), origin))
  }
  const wrapped: unknown = script.runInThisContext()
  if (typeof wrapped !== "function") throw new Error(`${filename} did not compile to a function`)
  const require = createRequire(filename)
  const module = { id: ".", filename, path: dirname(filename), exports: {}, loaded: false, children: [], paths: require.resolve.paths("") ?? [] }
  ;(wrapped as Wrapped).call(module.exports, module.exports, require, module, filename, dirname(filename))
  module.loaded = true
}
