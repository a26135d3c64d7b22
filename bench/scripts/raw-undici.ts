/**
 * The Node ceiling: 64 workers, undici `request()` → sha256 → temp file → rename. No catalog, no Effect.
 * BENCH_FSYNC=1 also fsyncs each file. BENCH_STORE_PROTOCOL=1 (the `undici-protocol` diagnostic) instead makes, in
 * plain promises, the system calls cargohold's file store makes for a new artifact: a temp file created read-only
 * in `.tmp/`, one write, fdatasync, close, the shard folder `ab/` made (each folder that gained a sub-folder
 * fsynced), a link to the content address, the temp name unlinked, the shard folder fsynced. Beside `undici-fsync`
 * and `cargohold-storage` it shows what the durability protocol costs by itself. BENCH_SHARD_LEVELS=2 shards two
 * levels deep (`ab/cd/`), as stores made before the one-level layout do.
 * usage: node raw-undici.mjs JOBS OUTDIR
 */
import { createHash } from "node:crypto"
import { mkdirSync } from "node:fs"
import { link, mkdir, open, rename, unlink } from "node:fs/promises"
import { dirname, join } from "node:path"
import { Agent, request } from "undici"
import { readJobs, runPool, scriptArgs, type Job } from "./jobs.js"

const concurrency = 64
/** Set BENCH_FSYNC=1 to fsync each file before the rename (off by default, like curl and aria2c). */
const fsync = process.env.BENCH_FSYNC === "1"
const storeProtocol = process.env.BENCH_STORE_PROTOCOL === "1"
/** Shard folders as stores of earlier versions make them (`ab/cd/`), instead of today's `ab/`. */
const twoLevels = process.env.BENCH_SHARD_LEVELS === "2"
const { jobsPath, outDir } = scriptArgs("raw-undici JOBS OUTDIR")
const jobs = readJobs(jobsPath)
const tempDir = join(outDir, ".tmp")
mkdirSync(tempDir, { recursive: true })
const dispatcher = new Agent({ connections: concurrency, pipelining: 1 })

const syncFolder = async (path: string): Promise<void> => {
  const folder = await open(path, "r")
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
const knownFolders = new Set<string>()
let made = 0

/** The store's steps for a new artifact, as cargohold's file store takes them (see the header). */
const storeOne = async (job: Job, body: AsyncIterable<Buffer>): Promise<void> => {
  const temp = join(tempDir, `${process.pid}-${made++}.part`)
  const file = await open(temp, "wx+", 0o444)
  try {
    const hash = createHash("sha256")
    const chunks: Array<Buffer> = []
    for await (const chunk of body) {
      hash.update(chunk)
      chunks.push(chunk)
    }
    const digest = hash.digest("hex")
    const bytes = Buffer.concat(chunks)
    if (bytes.length !== job.size || digest !== job.sha256) throw new Error(`${job.url}: got ${bytes.length} bytes sha256 ${digest}`)
    await file.write(bytes, 0, bytes.length, 0)
    await file.datasync()
  } catch (error) {
    await file.close()
    await unlink(temp)
    throw error
  }
  await file.close()
  const folder = twoLevels ? join(outDir, job.sha256.slice(0, 2), job.sha256.slice(2, 4)) : join(outDir, job.sha256.slice(0, 2))
  if (!knownFolders.has(folder)) {
    const first = await mkdir(folder, { recursive: true })
    if (first !== undefined) {
      await syncFolder(dirname(first))
      if (first !== folder) await syncFolder(dirname(folder))
    }
    knownFolders.add(folder)
  }
  await link(temp, join(folder, job.sha256))
  await unlink(temp)
  await syncFolder(folder)
}

const fetchOne = async (job: Job): Promise<void> => {
  if (storeProtocol) {
    const { statusCode, body } = await request(job.url, { dispatcher })
    if (statusCode !== 200) {
      await body.dump()
      throw new Error(`${job.url}: HTTP ${statusCode}`)
    }
    return storeOne(job, body as AsyncIterable<Buffer>)
  }
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
