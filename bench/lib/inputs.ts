/**
 * Per-workload input files for every contender, written once per run of the bench (the URLs carry nginx's port).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { formatJobs, type Job } from "../scripts/jobs.js"
import type { Corpus } from "./corpus.js"

export interface Inputs {
  readonly dir: string
  readonly jobs: ReadonlyArray<Job>
  /** url / sha256 / size / name lines for the bench scripts. */
  readonly jobsFile: string
  /** curl `-K` config: url + output per file. */
  readonly curlConfig: string
  /** `sha256sum -c` input. */
  readonly sha256sums: string
  /** aria2c `-i` input with `out=` and `checksum=sha-256=` per file. */
  readonly aria2Input: string
  /** The manifest for `cargohold fetch -i`. */
  readonly cargoholdManifest: string
  /** Per job, the same file on a mirror (workload 5m: the fast one), when there is one. */
  readonly mirrors: ReadonlyArray<string | undefined>
}

/** `mirrorBaseUrl`: the same corpus served elsewhere too; the jobs' URLs stay on `baseUrl`. */
export const writeInputs = (dir: string, corpus: Corpus, baseUrl: string, mirrorBaseUrl?: string): Inputs => {
  mkdirSync(dir, { recursive: true })
  const jobs: Array<Job> = corpus.entries.map((e) => ({
    url: `${baseUrl}/${e.path}`,
    sha256: e.sha256,
    size: e.size,
    name: basename(e.path)
  }))
  const inputs: Inputs = {
    dir,
    jobs,
    jobsFile: join(dir, "jobs.tsv"),
    curlConfig: join(dir, "curl.cfg"),
    sha256sums: join(dir, "sha256sums"),
    aria2Input: join(dir, "aria2.txt"),
    cargoholdManifest: join(dir, "cargohold-manifest.txt"),
    mirrors: corpus.entries.map((e) => (mirrorBaseUrl === undefined ? undefined : `${mirrorBaseUrl}/${e.path}`))
  }
  writeFileSync(inputs.jobsFile, formatJobs(jobs))
  writeFileSync(inputs.curlConfig, jobs.map((j) => `url = "${j.url}"\noutput = "${j.name}"\n`).join(""))
  writeFileSync(inputs.sha256sums, jobs.map((j) => `${j.sha256}  ${j.name}\n`).join(""))
  writeFileSync(
    inputs.aria2Input,
    jobs.map((j) => `${j.url}\n  out=${j.name}\n  checksum=sha-256=${j.sha256}\n`).join("")
  )
  writeFileSync(inputs.cargoholdManifest, jobs.map((j) => `${j.url} sha256:${j.sha256} ${j.size}\n`).join(""))
  return inputs
}
