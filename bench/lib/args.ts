/**
 * Command-line flags of the bench: `--workload 1,2 --repeats 5 --only curl,undici --smoke --out DIR --data DIR`.
 */
export interface BenchOptions {
  /** Workload ids to run ("1", "2", "3", "4"). */
  readonly workloads: ReadonlyArray<string>
  /** Repeats per contender; undefined means the workload's default. */
  readonly repeats: number | undefined
  /** Contender ids to run; empty means all. */
  readonly only: ReadonlyArray<string>
  readonly smoke: boolean
  /** Where latest.json and latest.md go. */
  readonly outDir: string
  /** Corpus, nginx prefix and scratch space. */
  readonly dataDir: string
  /** Profile the cargohold contenders (library and CLI) with `node --cpu-prof` (profiles in DATA/profiles). */
  readonly cpuProf: boolean
  /** Records for the catalog bench (workload 4); its own default when undefined. */
  readonly catalogN: number | undefined
  /** Workload 3's artifact count (default 100,000). */
  readonly w3Files: number | undefined
  /** Another built checkout of cargohold: its CLI and library run too, as `…@base` rows (A/B in one run). */
  readonly baseline: string | undefined
}

export const usage = `usage: npm run bench -- [options]
  --workload 1,2,3,4,5 workloads to run (default: all; smoke: 1); 5 is one 256 MiB file from nginx with
                       limit_rate 16m per connection, then from two mirrors (2m and 16m)
  --repeats N          runs per contender (default per workload: 5, 3, 2, -, 3; smoke: 1)
  --only a,b           contenders: curl, curl-o, undici, undici-fsync, pulpcore-aiohttp, aria2c, aria2c-x8, mfh, cargohold-cli,
                       cargohold-one, cargohold-lib, cargohold-download, cargohold-storage,
                       undici-protocol (opt-in)
  --smoke              tiny corpus, one repeat (what the test suite runs)
  --out DIR            results directory (default bench/results; smoke: DATA/results)
  --data DIR           corpus and scratch directory (default .bench; smoke: .bench/smoke)
  --w3-files N         workload 3's artifact count (default 100000; 3a runs a fifth)
  --catalog-n N        records for the catalog bench, workload 4 (default: its own, 1,000,000)
  --cpu-prof           also write a CPU profile of each cargohold run (library and CLI rows)
  --baseline DIR       also run DIR's build of cargohold (another checkout, built) as cargohold-cli@base and
                       cargohold-lib@base: A/B in one run (with --only, naming cargohold-cli also runs
                       cargohold-cli@base: an A/B asked for is never silently one-sided)`

const list = (value: string | undefined): Array<string> =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

export const parseArgs = (argv: ReadonlyArray<string>): BenchOptions => {
  const flags = new Map<string, string>()
  const switches = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--smoke" || arg === "--cpu-prof" || arg === "--help" || arg === "-h") switches.add(arg)
    else if (arg.startsWith("--") && arg.includes("=")) flags.set(arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1))
    else if (arg.startsWith("--") && i + 1 < argv.length) flags.set(arg, argv[++i]!)
    else throw new Error(`unknown argument '${arg}'\n${usage}`)
  }
  if (switches.has("--help") || switches.has("-h")) {
    console.log(usage)
    process.exit(0)
  }
  for (const name of flags.keys()) {
    if (!["--workload", "--repeats", "--only", "--out", "--data", "--w3-files", "--catalog-n", "--baseline"].includes(name)) throw new Error(`unknown flag '${name}'\n${usage}`)
  }
  const smoke = switches.has("--smoke")
  const repeats = flags.get("--repeats")
  if (repeats !== undefined && !(Number.isInteger(Number(repeats)) && Number(repeats) > 0)) {
    throw new Error(`--repeats must be a positive integer, got '${repeats}'`)
  }
  const w3Files = flags.get("--w3-files")
  if (w3Files !== undefined && !(Number.isInteger(Number(w3Files)) && Number(w3Files) >= 5)) {
    throw new Error(`--w3-files must be an integer ≥ 5, got '${w3Files}'`)
  }
  const dataDir = flags.get("--data") ?? (smoke ? ".bench/smoke" : ".bench")
  return {
    workloads: list(flags.get("--workload") ?? (smoke ? "1" : "1,2,3,4,5")),
    repeats: repeats !== undefined ? Number(repeats) : smoke ? 1 : undefined,
    only: list(flags.get("--only")),
    smoke,
    outDir: flags.get("--out") ?? (smoke ? `${dataDir}/results` : "bench/results"),
    dataDir,
    cpuProf: switches.has("--cpu-prof"),
    w3Files: w3Files !== undefined ? Number(w3Files) : undefined,
    baseline: flags.get("--baseline"),
    catalogN: flags.has("--catalog-n") ? Number(flags.get("--catalog-n")) || undefined : undefined
  }
}
