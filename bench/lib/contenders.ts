/**
 * The contenders: how each one is invoked on a workload's inputs, and whether it can run on this machine.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import type { Inputs } from "./inputs.js"
import type { Command } from "./measure.js"

export interface BuiltScripts {
  readonly rawUndici: string
  readonly mfh: string
  readonly cargoholdLib: string
  readonly storagePath: string
}

export interface RunSpec {
  readonly inputs: Inputs
  /** A fresh, empty directory for this run's output. */
  readonly outDir: string
  readonly scripts: BuiltScripts
  readonly repoRoot: string
  /** When set, node contenders write a CPU profile here. */
  readonly cpuProfDir: string | undefined
}

export interface Contender {
  readonly id: string
  readonly label: string
  /** True for cargohold's own entries (the rows the goals are about). */
  readonly isCargohold: boolean
  /** Leaves one output file per job in `outDir` (checked after each run, outside the timing). */
  readonly writesFiles: boolean
  /** Why it cannot run here, or undefined when it can. */
  readonly unavailable: (repoRoot: string) => string | undefined
  readonly command: (run: RunSpec) => Command
}

const hasCommand = (name: string): boolean => spawnSync("sh", ["-c", `command -v ${name}`]).status === 0
const needs = (name: string, pkg: string) => () => (hasCommand(name) ? undefined : `${name} not installed (apt-get install ${pkg})`)

const nodeArgs = (run: RunSpec, name: string): Array<string> =>
  run.cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${run.cpuProfDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]

const curl: Contender = {
  id: "curl",
  label: "curl --parallel (64) + sha256sum -c",
  isCargohold: false,
  writesFiles: true,
  unavailable: needs("curl", "curl"),
  command: (run) => ({
    argv: [
      "sh",
      "-c",
      'curl --parallel --parallel-max 64 --fail --silent --show-error -K "$1" && sha256sum -c --quiet --strict "$2"',
      "curl",
      run.inputs.curlConfig,
      run.inputs.sha256sums
    ],
    cwd: run.outDir
  })
}

/** One connection; with a mirror (workload 5m), the fast one: curl's best case. */
const curlAlone: Contender = {
  id: "curl-o",
  label: "curl -o (one connection, no digest)",
  isCargohold: false,
  writesFiles: true,
  unavailable: needs("curl", "curl"),
  command: (run) => {
    const [job] = run.inputs.jobs
    const url = run.inputs.mirrors[0] ?? job!.url
    return { argv: ["curl", "--fail", "--silent", "--show-error", "-o", job!.name, url], cwd: run.outDir }
  }
}

/** aria2c splitting one file into 8 ranges over 8 connections, verifying it (as cargohold does); both URIs with a mirror. */
const aria2cSegments: Contender = {
  id: "aria2c-x8",
  label: "aria2c -x8 -s8 (checksum=sha-256)",
  isCargohold: false,
  writesFiles: true,
  unavailable: needs("aria2c", "aria2"),
  command: (run) => {
    const [job] = run.inputs.jobs
    const mirror = run.inputs.mirrors[0]
    return {
      argv: [
        "aria2c", "--no-conf", "-q", "-x8", "-s8", `--checksum=sha-256=${job!.sha256}`, "--allow-overwrite=true",
        "--auto-file-renaming=false", "--summary-interval=0", "-d", run.outDir, "-o", job!.name, job!.url,
        ...(mirror === undefined ? [] : [mirror])
      ]
    }
  }
}

const undici: Contender = {
  id: "undici",
  label: "raw undici (64 workers, sha256, temp+rename)",
  isCargohold: false,
  writesFiles: true,
  unavailable: () => undefined,
  command: (run) => ({
    argv: [process.execPath, ...nodeArgs(run, "undici"), run.scripts.rawUndici, run.inputs.jobsFile, run.outDir]
  })
}

/** The same with an fsync per file before the rename: the durability cargohold pays (it fsyncs files and folders). */
const undiciFsync: Contender = {
  ...undici,
  id: "undici-fsync",
  label: "raw undici + fsync per file",
  command: (run) => ({ ...undici.command(run), env: { BENCH_FSYNC: "1" } })
}

/** Diagnostic (opt-in via --only): raw undici making the store's system calls for each artifact (see raw-undici.ts). */
const undiciProtocol: Contender = {
  ...undici,
  id: "undici-protocol",
  label: "raw undici + cargohold's store protocol (diagnostic)",
  // objects land under ab/ by content address, as in cargohold's store
  writesFiles: false,
  command: (run) => ({ ...undici.command(run), env: { BENCH_STORE_PROTOCOL: "1" } })
}

const aria2c: Contender = {
  id: "aria2c",
  label: "aria2c -j 64 (checksum=sha-256)",
  isCargohold: false,
  writesFiles: true,
  unavailable: needs("aria2c", "aria2"),
  command: (run) => ({
    argv: [
      "aria2c",
      "--no-conf",
      "-q",
      "-j",
      "64",
      "-i",
      run.inputs.aria2Input,
      "-d",
      run.outDir,
      "--file-allocation=none",
      "--allow-overwrite=true",
      "--auto-file-renaming=false",
      "--max-tries=1",
      "--summary-interval=0",
      "--deferred-input=true"
    ]
  })
}

const python3 = "/usr/bin/python3"
let aiohttpProbe: string | undefined | null = null
/** Debian's interpreter must import aiohttp (python3-aiohttp). Probed once. */
const aiohttpUnavailable = (): string | undefined => {
  if (aiohttpProbe !== null) return aiohttpProbe
  const probe = existsSync(python3) ? spawnSync(python3, ["-c", "import aiohttp"], { timeout: 30_000 }) : undefined
  aiohttpProbe = probe?.status === 0 ? undefined : "python3-aiohttp not installed (apt-get install python3-aiohttp)"
  return aiohttpProbe
}

/**
 * pulpcore's own loop (what its users run today): aiohttp, one ClientSession, 64 concurrent, 1 MiB reads, sha256
 * inline, temp file + rename — the shape of pulpcore's HttpDownloader, without pulpcore's database.
 */
const pulpcoreAiohttp: Contender = {
  id: "pulpcore-aiohttp",
  label: "pulpcore's loop (aiohttp, 64, sha256, temp+rename)",
  isCargohold: false,
  writesFiles: true,
  unavailable: aiohttpUnavailable,
  command: (run) => ({
    argv: [python3, join(run.repoRoot, "bench/scripts/pulpcore-aiohttp.py"), run.inputs.jobsFile, run.outDir]
  })
}

const mfh: Contender = {
  id: "mfh",
  label: "make-fetch-happen (integrity, cacache)",
  isCargohold: false,
  writesFiles: false,
  unavailable: (root) => (existsSync(join(root, "node_modules/make-fetch-happen")) ? undefined : "make-fetch-happen not installed"),
  command: (run) => ({ argv: [process.execPath, ...nodeArgs(run, "mfh"), run.scripts.mfh, run.inputs.jobsFile, run.outDir] })
}

const cargoholdBin = (root: string) => join(root, "node_modules/.bin/cargohold")

/**
 * `BENCH_SEGMENTS=N npm run bench …`: the cargohold rows fetch a large artifact as N ranges (1: one stream), the
 * CLI through `--segments N`, the library script reading the same variable (it inherits the bench's environment).
 * Unset: the product's default. For measuring one stream apart from the choice of when to segment.
 */
/**
 * How a CLI row starts: the installed bin, or — with `--cpu-prof` — node with the profiling flags before it (Node
 * refuses `--cpu-prof` in NODE_OPTIONS, so passing it there made every profiled CLI run exit 9).
 */
const cliArgv = (run: RunSpec, name: string): Array<string> =>
  run.cpuProfDir === undefined ? [cargoholdBin(run.repoRoot)] : [process.execPath, ...nodeArgs(run, name), cargoholdBin(run.repoRoot)]

const segmentsArgs = (): Array<string> => {
  const n = process.env.BENCH_SEGMENTS
  return n === undefined || n === "" ? [] : ["--segments", n]
}

const cliProbes = new Map<string, string | undefined>()
/** The CLI must be built and know `fetch -i`. Probed once per tree (it costs a process start). */
const cliUnavailable = (root: string): string | undefined => {
  if (cliProbes.has(root)) return cliProbes.get(root)
  let why: string | undefined
  if (!existsSync(cargoholdBin(root))) why = "CLI not installed (node_modules/.bin/cargohold missing)"
  else {
    const help = spawnSync(cargoholdBin(root), ["fetch", "--help"], { encoding: "utf8", timeout: 30_000 })
    const text = `${help.stdout}${help.stderr}`
    why = /(^|\s)(-i|--input)\b/.test(text) ? undefined : "CLI has no `fetch -i` yet"
  }
  cliProbes.set(root, why)
  return why
}

const cargoholdCli: Contender = {
  id: "cargohold-cli",
  label: "cargohold CLI (fetch -i, verify+store+catalog)",
  isCargohold: true,
  writesFiles: false,
  unavailable: cliUnavailable,
  command: (run) => ({
    argv: [
      ...cliArgv(run, "cargohold-cli"),
      "fetch",
      "--home",
      run.outDir,
      "--max-connections",
      "64",
      "--per-host",
      "64",
      "-i",
      run.inputs.cargoholdManifest,
      ...segmentsArgs()
    ]
  })
}

/**
 * One artifact with the CLI's defaults (segments, limits): `cargohold fetch URL [--mirror M] --sha256 --size`,
 * verified, stored and catalogued.
 */
const cargoholdOne: Contender = {
  id: "cargohold-one",
  label: "cargohold fetch URL (defaults, verify+store+catalog)",
  isCargohold: true,
  writesFiles: false,
  unavailable: cliUnavailable,
  command: (run) => {
    const [job] = run.inputs.jobs
    const mirror = run.inputs.mirrors[0]
    return {
      argv: [
        ...cliArgv(run, "cargohold-one"), "fetch", job!.url, ...(mirror === undefined ? [] : ["--mirror", mirror]),
        "--sha256", job!.sha256, "--size", String(job!.size), "--home", run.outDir, ...segmentsArgs()
      ]
    }
  }
}

const cargoholdLib: Contender = {
  id: "cargohold-lib",
  label: "cargohold library (fetchMany, layerNode)",
  isCargohold: true,
  writesFiles: false,
  unavailable: (root) =>
    existsSync(join(root, "packages/node/dist/index.js")) ? undefined : "@cargohold/node not built (packages/node/dist missing)",
  command: (run) => ({
    argv: [process.execPath, ...nodeArgs(run, "cargohold-lib"), run.scripts.cargoholdLib, run.inputs.jobsFile, run.outDir]
  })
}

/** The library without fetchMany's batching: one `download` per job under `Effect.forEach` (opt-in via --only). */
const cargoholdDownload: Contender = {
  ...cargoholdLib,
  id: "cargohold-download",
  label: "cargohold library (download × 64, layerNode)",
  command: (run) => ({ ...cargoholdLib.command(run), env: { BENCH_CARGOHOLD_API: "download" } })
}

/** Diagnostic (opt-in via --only): the library with the in-memory catalog, to show what the SQLite catalog costs. */
const cargoholdMemoryCatalog: Contender = {
  ...cargoholdLib,
  id: "cargohold-lib-memcat",
  label: "cargohold library, in-memory catalog (diagnostic)",
  command: (run) => ({ ...cargoholdLib.command(run), env: { BENCH_CARGOHOLD_CATALOG: "memory:" } })
}

/**
 * Diagnostic (opt-in via --only): undici into cargohold's file Storage through `layerNode`, no pipeline and no
 * catalog writes (bench/scripts/storage-path.ts): between `undici-fsync` and `cargohold-lib`, it shows what the
 * store's path costs and what the rest of the pipeline adds.
 */
const cargoholdStorage: Contender = {
  ...cargoholdLib,
  id: "cargohold-storage",
  label: "undici into cargohold's Storage only (diagnostic)",
  command: (run) => ({
    argv: [process.execPath, ...nodeArgs(run, "cargohold-storage"), run.scripts.storagePath, run.inputs.jobsFile, run.outDir]
  })
}

export const allContenders: ReadonlyArray<Contender> = [curlAlone, curl, undici, undiciFsync, pulpcoreAiohttp, aria2c, aria2cSegments, mfh, cargoholdCli, cargoholdOne, cargoholdLib, cargoholdDownload, cargoholdMemoryCatalog, cargoholdStorage, undiciProtocol]

export const contenderById = (id: string): Contender | undefined => allContenders.find((c) => c.id === id)

/** The contenders that run a cargohold build, and can so also run another tree's build (`--baseline`). */
export const baselineIds: ReadonlyArray<string> = ["cargohold-cli", "cargohold-lib"]
export const baselineSuffix = "@base"

/**
 * `contender` run from another checkout of cargohold, built there (`--baseline DIR`): same command, that tree's
 * CLI and packages, bench scripts built into it. For A/B measurements in one run.
 */
export const onBaseline = (contender: Contender, root: string, scripts: BuiltScripts): Contender => ({
  ...contender,
  id: `${contender.id}${baselineSuffix}`,
  label: `${contender.label} [baseline]`,
  unavailable: () => contender.unavailable(root),
  command: (run) => contender.command({ ...run, repoRoot: root, scripts })
})
