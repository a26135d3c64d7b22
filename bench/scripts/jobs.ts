/**
 * The job list the bench scripts read: one `url<TAB>sha256<TAB>size<TAB>name` line per file.
 */
import { readFileSync } from "node:fs"

export interface Job {
  readonly url: string
  readonly sha256: string
  readonly size: number
  /** Output file name (unique within the job list). */
  readonly name: string
}

export const formatJobs = (jobs: ReadonlyArray<Job>): string =>
  jobs.map((j) => `${j.url}\t${j.sha256}\t${j.size}\t${j.name}`).join("\n") + "\n"

export const readJobs = (path: string): Array<Job> =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const [url = "", sha256 = "", size = "0", name = ""] = line.split("\t")
      return { url, sha256, size: Number(size), name }
    })

/** Runs `work` over `items` with `concurrency` workers; the first failure rejects. */
export const runPool = async <T>(
  items: ReadonlyArray<T>,
  concurrency: number,
  work: (item: T) => Promise<void>
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!
      await work(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

/** Reads `<script> JOBS OUTDIR` from argv, exiting with usage otherwise. */
export const scriptArgs = (usage: string): { readonly jobsPath: string; readonly outDir: string } => {
  const [jobsPath, outDir] = process.argv.slice(2)
  if (jobsPath === undefined || outDir === undefined) {
    console.error(`usage: ${usage}`)
    process.exit(2)
  }
  return { jobsPath, outDir }
}
