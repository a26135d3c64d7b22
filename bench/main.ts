/**
 * The bench: corpus, nginx, every contender in alternation, medians, ratios, goals, latest.json + latest.md.
 * Run through `npm run bench` (bench/run.sh builds first); flags in bench/lib/args.ts.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { cpus, release, totalmem } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "./lib/args.js"
import { buildScripts } from "./lib/build.js"
import {
  allContenders,
  baselineIds,
  baselineSuffix,
  type BuiltScripts,
  type Contender,
  contenderById,
  onBaseline
} from "./lib/contenders.js"
import { type Corpus, ensureCorpus, prefix } from "./lib/corpus.js"
import { checkGoals } from "./lib/goals.js"
import { writeInputs } from "./lib/inputs.js"
import { type Measurement, measure, unavailableExitCode } from "./lib/measure.js"
import { type Nginx, nginxBinary, startNginx } from "./lib/nginx.js"
import { renderMarkdown } from "./lib/report.js"
import { type BenchResult, type ExtraSection, type Machine, type RawRow, summarise, type WorkloadResult } from "./lib/results.js"
import { runExtras } from "./lib/extras.js"
import { type Workload, workloads as allWorkloads } from "./lib/workloads.js"

const curlContender = contenderById("curl")!
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const log = (line: string) => console.error(`[bench] ${line}`)

const machine = (): Machine => ({
  nproc: Number(spawnSync("nproc", { encoding: "utf8" }).stdout.trim()) || cpus().length,
  cpu: cpus()[0]?.model.trim() ?? "unknown",
  memoryMiB: Math.round(totalmem() / 1024 / 1024),
  node: process.version,
  os: `Linux ${release()}`
})

const countFiles = (dir: string): number => readdirSync(dir).filter((name) => !name.startsWith(".")).length

/** Runs every available contender of `workload` `repeats` times, rotating the order each round. */
const runWorkload = async (
  workload: Workload,
  corpus: Corpus,
  contenders: ReadonlyArray<Contender>,
  env: { readonly nginx: Nginx; readonly mirror?: Nginx | undefined; readonly dataDir: string; readonly scripts: BuiltScripts; readonly repeats: number; readonly warmup: boolean; readonly cpuProfDir: string | undefined }
): Promise<WorkloadResult> => {
  const inputs = writeInputs(join(env.dataDir, "inputs", workload.id), corpus, env.nginx.baseUrl, env.mirror?.baseUrl)
  const logDir = join(env.dataDir, "logs", workload.id)
  mkdirSync(logDir, { recursive: true })
  const rows = new Map<string, { contender: Contender; runs: Array<Measurement>; failures: Array<string>; unavailable?: string }>()
  for (const contender of contenders) {
    const why = contender.unavailable(repoRoot)
    rows.set(contender.id, { contender, runs: [], failures: [], ...(why !== undefined ? { unavailable: why } : {}) })
    if (why !== undefined) log(`workload ${workload.id}: ${contender.id} not available: ${why}`)
  }
  const runnable = [...rows.values()].filter((r) => r.unavailable === undefined)
  const runOnce = async (contender: Contender, name: string, profile: boolean) => {
    const outDir = join(env.dataDir, "scratch", `${workload.id}-${name}`)
    rmSync(outDir, { recursive: true, force: true })
    mkdirSync(outDir, { recursive: true })
    const cpuProfDir = profile && contender.isCargohold ? env.cpuProfDir : undefined
    const command = contender.command({ inputs, outDir, scripts: env.scripts, repoRoot, cpuProfDir })
    const outcome = await measure(command, logDir, name, workload.timeoutMs)
    let failure = outcome._tag === "failed" ? outcome.detail : undefined
    if (failure === undefined && contender.writesFiles && countFiles(outDir) !== inputs.jobs.length) {
      failure = `left ${countFiles(outDir)} of ${inputs.jobs.length} files`
    }
    rmSync(outDir, { recursive: true, force: true })
    const unavailable = outcome._tag === "failed" && outcome.exitCode === unavailableExitCode
    return { measurement: outcome.measurement, failure, unavailable }
  }
  // warm-up (page cache, nginx's open-file cache): curl when it can run, it is the cheapest; not counted
  const warmer = [curlContender, ...runnable.map((r) => r.contender)].find((c) => c.unavailable(repoRoot) === undefined)
  if (env.warmup && warmer !== undefined) {
    const warm = await runOnce(warmer, `${warmer.id}-warmup`, false)
    log(`workload ${workload.id} warm-up ${warmer.id}: ${warm.failure ?? `${warm.measurement?.wallS.toFixed(3)} s`}`)
  }
  for (let round = 0; round < env.repeats; round++) {
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]!)
    for (const row of order) {
      if (row.unavailable !== undefined) continue
      const result = await runOnce(row.contender, `${row.contender.id}-${round + 1}`, true)
      if (result.unavailable) {
        row.unavailable = result.failure?.replace(/^exit 3: /, "") ?? "not available"
        log(`workload ${workload.id}: ${row.contender.id} not available: ${row.unavailable}`)
        continue
      }
      const what = `workload ${workload.id} run ${round + 1}/${env.repeats} ${row.contender.id}`
      const m = result.measurement
      if (result.failure !== undefined) {
        log(`${what}: FAILED ${result.failure}`)
        row.failures.push(result.failure)
      } else if (m !== undefined) {
        log(`${what}: ${m.wallS.toFixed(3)} s, ${m.maxRssMiB.toFixed(0)} MiB`)
        row.runs.push(m)
      }
    }
  }
  const raw: Array<RawRow> = [...rows.values()].map((r) => ({
    contender: r.contender.id,
    label: r.contender.label,
    isCargohold: r.contender.isCargohold,
    status: r.unavailable !== undefined ? "unavailable" : r.failures.length > 0 ? "failed" : "ok",
    note: r.unavailable ?? (r.failures.length > 0 ? `${r.failures.length} failed run(s): ${r.failures[0]}` : undefined),
    runs: r.runs
  }))
  const bytes = corpus.entries.reduce((sum, e) => sum + e.size, 0)
  return { id: workload.id, title: workload.title, files: corpus.entries.length, bytes, reference: workload.reference, rows: summarise(corpus.entries.length, bytes, workload.reference, raw) }
}

const main = async () => {
  const options = parseArgs(process.argv.slice(2))
  if (nginxBinary() === undefined) {
    log("nginx not found: run `bash scripts/system-deps.sh` (installs nginx-light, aria2, time)")
    process.exit(4)
  }
  process.on("SIGINT", () => process.exit(130))
  process.on("SIGTERM", () => process.exit(143))
  const dataDir = resolve(repoRoot, options.dataDir)
  const corpusRoot = join(dataDir, "corpus")
  mkdirSync(corpusRoot, { recursive: true })
  rmSync(join(dataDir, "scratch"), { recursive: true, force: true })
  const buildDir = join(repoRoot, ".bench", "build", String(process.pid))
  const scripts = await buildScripts(repoRoot, buildDir)
  const baselineRoot = options.baseline === undefined ? undefined : resolve(options.baseline)
  const baselineBuildDir = baselineRoot === undefined ? undefined : join(baselineRoot, ".bench", "build", String(process.pid))
  const contenders: ReadonlyArray<Contender> =
    baselineRoot === undefined || baselineBuildDir === undefined
      ? allContenders
      : [
          ...allContenders,
          ...(await buildScripts(baselineRoot, baselineBuildDir).then((built) =>
            allContenders.filter((c) => baselineIds.includes(c.id)).map((c) => onBaseline(c, baselineRoot, built))
          ))
        ]
  const selected = allWorkloads(options.smoke, options.w3Files).filter((w) => options.workloads.includes(w.group))
  const corpora = new Map<string, Corpus>()
  for (const w of selected) {
    if (!corpora.has(w.corpus.name)) corpora.set(w.corpus.name, ensureCorpus(corpusRoot, w.corpus, log))
  }
  const cpuProfDir = options.cpuProf ? join(dataDir, "profiles") : undefined
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true })
  /** Writes latest.json / latest.md; `partial` marks a run still going. */
  const writeResults = (results: ReadonlyArray<WorkloadResult>, extras: ReadonlyArray<ExtraSection>, partial: boolean): string => {
    const args = process.argv.slice(2).join(" ")
    const result: BenchResult = {
      date: new Date().toISOString(),
      machine: machine(),
      command: `npm run bench -- ${args}`.trim() + (partial ? " (in progress: later workloads not yet run)" : ""),
      smoke: options.smoke,
      workloads: results,
      goals: checkGoals(results),
      extras
    }
    const outDir = resolve(repoRoot, options.outDir)
    mkdirSync(outDir, { recursive: true })
    const markdown = renderMarkdown(result)
    writeFileSync(join(outDir, "latest.json"), `${JSON.stringify(result, null, 2)}\n`)
    writeFileSync(join(outDir, "latest.md"), markdown)
    return markdown
  }
  const nginx = await startNginx(join(dataDir, `nginx-${process.pid}`), corpusRoot)
  log(`nginx serving ${corpusRoot} at ${nginx.baseUrl}`)
  const results: Array<WorkloadResult> = []
  try {
    for (const w of selected) {
      const whole = corpora.get(w.corpus.name)!
      const corpus = w.subset !== undefined ? prefix(whole, w.subset) : whole
      // a baseline row belongs to a workload wherever its contender does
      const base = (id: string) => (id.endsWith(baselineSuffix) ? id.slice(0, -baselineSuffix.length) : id)
      // `--only cargohold-cli --baseline DIR` runs both sides: the baseline row follows its contender
      const chosen = contenders.filter((c) =>
        options.only.length === 0
          ? w.contenders.includes(base(c.id))
          : (options.only.includes(c.id) || options.only.includes(base(c.id))) &&
            [...w.contenders, ...w.optional].includes(base(c.id))
      )
      const repeats = options.repeats ?? w.defaultRepeats
      log(`workload ${w.id}: ${w.title}, ${chosen.length} contenders × ${repeats}`)
      // a capped workload has its own servers: the URL's (slow, with a mirror) and the capped mirror
      const capped = w.capped
      const fast = capped === undefined ? undefined : await startNginx(join(dataDir, `nginx-${process.pid}-${w.id}`), corpusRoot, 2, `limit_rate ${capped.rate};`)
      const slow =
        capped?.slowMirror === undefined
          ? undefined
          : await startNginx(join(dataDir, `nginx-${process.pid}-${w.id}-slow`), corpusRoot, 2, `limit_rate ${capped.slowMirror};`)
      try {
        const servers = fast === undefined ? { nginx } : slow === undefined ? { nginx: fast } : { nginx: slow, mirror: fast }
        results.push(await runWorkload(w, corpus, chosen, { ...servers, dataDir, scripts, repeats, warmup: !options.smoke && capped === undefined, cpuProfDir }))
      } finally {
        await fast?.stop()
        await slow?.stop()
      }
      writeResults(results, [], true) // after each workload, so a long run that is stopped keeps what it measured
    }
  } finally {
    await nginx.stop()
    log("nginx stopped")
    rmSync(buildDir, { recursive: true, force: true })
    if (baselineBuildDir !== undefined) rmSync(baselineBuildDir, { recursive: true, force: true })
    rmSync(join(dataDir, "scratch"), { recursive: true, force: true })
  }
  const extras: Array<ExtraSection> = options.workloads.includes("4") && !options.smoke ? await runExtras(repoRoot, dataDir, options.catalogN) : []
  const markdown = writeResults(results, extras, false)
  console.log(markdown)
  log(`wrote ${join(resolve(repoRoot, options.outDir), "latest.json")} and latest.md`)
}

await main()
