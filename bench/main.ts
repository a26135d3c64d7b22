/**
 * The bench: corpus, nginx, every contender in alternation, medians, ratios, goals, latest.json + latest.md.
 * Run through `npm run bench` (bench/run.sh builds first); flags in bench/lib/args.ts.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { cpus, release, totalmem } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "./lib/args.js"
import { buildScripts } from "./lib/build.js"
import { allContenders, type BuiltScripts, type Contender } from "./lib/contenders.js"
import { type Corpus, ensureCorpus, prefix } from "./lib/corpus.js"
import { checkGoals } from "./lib/goals.js"
import { writeInputs } from "./lib/inputs.js"
import { type Measurement, measure, unavailableExitCode } from "./lib/measure.js"
import { type Nginx, nginxBinary, startNginx } from "./lib/nginx.js"
import { renderMarkdown } from "./lib/report.js"
import { type BenchResult, type ExtraSection, type Machine, type RawRow, summarise, type WorkloadResult } from "./lib/results.js"
import { runExtras } from "./lib/extras.js"
import { type Workload, workloads as allWorkloads } from "./lib/workloads.js"

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
  env: { readonly nginx: Nginx; readonly dataDir: string; readonly scripts: BuiltScripts; readonly repeats: number; readonly warmup: boolean; readonly cpuProfDir: string | undefined }
): Promise<WorkloadResult> => {
  const inputs = writeInputs(join(env.dataDir, "inputs", workload.id), corpus, env.nginx.baseUrl)
  const logDir = join(env.dataDir, "logs", workload.id)
  mkdirSync(logDir, { recursive: true })
  const rows = new Map<string, { contender: Contender; runs: Array<Measurement>; failures: Array<string>; unavailable?: string }>()
  for (const contender of contenders) {
    const why = contender.unavailable(repoRoot)
    rows.set(contender.id, { contender, runs: [], failures: [], ...(why !== undefined ? { unavailable: why } : {}) })
    if (why !== undefined) log(`workload ${workload.id}: ${contender.id} not available: ${why}`)
  }
  const runnable = [...rows.values()].filter((r) => r.unavailable === undefined)
  const rounds = env.warmup ? env.repeats + 1 : env.repeats
  for (let round = 0; round < rounds; round++) {
    const warm = env.warmup && round === 0
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]!)
    for (const row of warm ? order.slice(0, 1) : order) {
      if (row.unavailable !== undefined) continue
      const outDir = join(env.dataDir, "scratch", `${workload.id}-${row.contender.id}-${round}`)
      rmSync(outDir, { recursive: true, force: true })
      mkdirSync(outDir, { recursive: true })
      const spec = { inputs, outDir, scripts: env.scripts, repoRoot, cpuProfDir: warm ? undefined : env.cpuProfDir }
      const cpuProfDir = row.contender.isCargohold ? spec.cpuProfDir : undefined
      const outcome = await measure(row.contender.command({ ...spec, cpuProfDir }), logDir, `${row.contender.id}-${round}`, workload.timeoutMs)
      let failure: string | undefined
      if (outcome._tag === "failed") failure = outcome.detail
      else if (row.contender.writesFiles && countFiles(outDir) !== inputs.jobs.length) {
        failure = `left ${countFiles(outDir)} of ${inputs.jobs.length} files`
      }
      rmSync(outDir, { recursive: true, force: true })
      if (outcome._tag === "failed" && outcome.exitCode === unavailableExitCode) {
        row.unavailable = outcome.detail.replace(/^exit 3: /, "")
        log(`workload ${workload.id}: ${row.contender.id} not available: ${row.unavailable}`)
        continue
      }
      const m = outcome.measurement
      const what = warm ? "warm-up" : `run ${round + (env.warmup ? 0 : 1)}/${env.repeats}`
      if (failure !== undefined) {
        log(`workload ${workload.id} ${what} ${row.contender.id}: FAILED ${failure}`)
        if (!warm) row.failures.push(failure)
      } else {
        log(`workload ${workload.id} ${what} ${row.contender.id}: ${m?.wallS.toFixed(3)} s, ${m?.maxRssMiB.toFixed(0)} MiB`)
        if (!warm && m !== undefined) row.runs.push(m)
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
  const selected = allWorkloads(options.smoke).filter((w) => options.workloads.includes(w.group))
  const corpora = new Map<string, Corpus>()
  for (const w of selected) {
    if (!corpora.has(w.corpus.name)) corpora.set(w.corpus.name, ensureCorpus(corpusRoot, w.corpus, log))
  }
  const cpuProfDir = options.cpuProf ? join(dataDir, "profiles") : undefined
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true })
  const nginx = await startNginx(join(dataDir, `nginx-${process.pid}`), corpusRoot)
  log(`nginx serving ${corpusRoot} at ${nginx.baseUrl}`)
  const results: Array<WorkloadResult> = []
  try {
    for (const w of selected) {
      const whole = corpora.get(w.corpus.name)!
      const corpus = w.subset !== undefined ? prefix(whole, w.subset) : whole
      const contenders = allContenders.filter((c) =>
        options.only.length === 0 ? w.contenders.includes(c.id) : options.only.includes(c.id) && [...w.contenders, ...w.optional].includes(c.id)
      )
      const repeats = options.repeats ?? w.defaultRepeats
      log(`workload ${w.id}: ${w.title}, ${contenders.length} contenders × ${repeats}`)
      results.push(await runWorkload(w, corpus, contenders, { nginx, dataDir, scripts, repeats, warmup: !options.smoke, cpuProfDir }))
    }
  } finally {
    await nginx.stop()
    log("nginx stopped")
    rmSync(buildDir, { recursive: true, force: true })
    rmSync(join(dataDir, "scratch"), { recursive: true, force: true })
  }
  const extras: Array<ExtraSection> = options.workloads.includes("4") && !options.smoke ? await runExtras(repoRoot, dataDir) : []
  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: machine(),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
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
  console.log(markdown)
  log(`wrote ${join(outDir, "latest.json")} and latest.md`)
  if (!existsSync(join(outDir, "latest.md"))) process.exit(1)
}

await main()
