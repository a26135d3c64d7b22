/**
 * The Node ceiling: 64 workers, undici `request()` → sha256 → temp file → rename. No catalog, no Effect.
 * usage: node raw-undici.mjs JOBS OUTDIR
 */
import { createHash } from "node:crypto"
import { mkdirSync } from "node:fs"
import { open, rename, unlink } from "node:fs/promises"
import { join } from "node:path"
import { Agent, request } from "undici"
import { readJobs, runPool, scriptArgs, type Job } from "./jobs.js"

const concurrency = 64
/** Set BENCH_FSYNC=1 to fsync each file before the rename (off by default, like curl and aria2c). */
const fsync = process.env.BENCH_FSYNC === "1"
const { jobsPath, outDir } = scriptArgs("raw-undici JOBS OUTDIR")
const jobs = readJobs(jobsPath)
const tempDir = join(outDir, ".tmp")
mkdirSync(tempDir, { recursive: true })
const dispatcher = new Agent({ connections: concurrency, pipelining: 1 })

const fetchOne = async (job: Job): Promise<void> => {
  const temp = join(tempDir, `${job.name}.part`)
  const file = await open(temp, "w")
  try {
    const { statusCode, body } = await request(job.url, { dispatcher })
    if (statusCode !== 200) {
      await body.dump()
      throw new Error(`${job.url}: HTTP ${statusCode}`)
    }
    const hash = createHash("sha256")
    let size = 0
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk)
      size += chunk.length
      await file.write(chunk)
    }
    const digest = hash.digest("hex")
    if (size !== job.size || digest !== job.sha256) throw new Error(`${job.url}: got ${size} bytes sha256 ${digest}`)
    if (fsync) await file.sync()
  } catch (error) {
    await file.close()
    await unlink(temp)
    throw error
  }
  await file.close()
  await rename(temp, join(outDir, job.name))
}

await runPool(jobs, concurrency, fetchOne)
await dispatcher.close()
console.log(`raw-undici: ${jobs.length} files verified`)
