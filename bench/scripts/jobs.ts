/**
 * The job list the bench scripts read: one `url<TAB>sha256<TAB>size<TAB>name` line per file.
 */
import { createReadStream, readFileSync } from "node:fs"
import { createInterface } from "node:readline"

export interface Job {
  readonly url: string
  readonly sha256: string
  readonly size: number
  /** Output file name (unique within the job list). */
  readonly name: string
}

export const formatJobs = (jobs: ReadonlyArray<Job>): string =>
  jobs.map((j) => `${j.url}\t${j.sha256}\t${j.size}\t${j.name}`).join("\n") + "\n"

const parseJob = (line: string): Job => {
  const [url = "", sha256 = "", size = "0", name = ""] = line.split("\t")
  return { url, sha256, size: Number(size), name }
}

export const readJobs = (path: string): Array<Job> =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map(parseJob)

/** The jobs of `path` one at a time, read as they are pulled (nothing of the file is kept). */
export async function* streamJobs(path: string): AsyncGenerator<Job> {
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.length > 0) yield parseJob(line)
  }
}

/** How many jobs `path` holds and their total size, read through once without keeping them. */
export const countJobs = async (path: string): Promise<{ readonly count: number; readonly bytes: number }> => {
  let count = 0
  let bytes = 0
  for await (const job of streamJobs(path)) {
    count += 1
    bytes += job.size
  }
  return { count, bytes }
}

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
