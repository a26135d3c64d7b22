/**
 * npm's own stack: make-fetch-happen with an `integrity` per file, into a cacache store. 64 concurrent requests.
 * usage: node mfh.mjs JOBS CACHEDIR
 */
import makeFetch from "make-fetch-happen"
import { readJobs, runPool, scriptArgs, type Job } from "./jobs.js"

const concurrency = 64
const { jobsPath, outDir } = scriptArgs("mfh JOBS CACHEDIR")
const jobs = readJobs(jobsPath)
const fetch = makeFetch.defaults({ cachePath: outDir, maxSockets: concurrency, retry: false })

const integrity = (hex: string) => `sha256-${Buffer.from(hex, "hex").toString("base64")}`

const fetchOne = async (job: Job): Promise<void> => {
  const response = await fetch(job.url, { integrity: integrity(job.sha256) })
  if (response.status !== 200) throw new Error(`${job.url}: HTTP ${response.status}`)
  let size = 0
  for await (const chunk of response.body) size += chunk.length
  if (size !== job.size) throw new Error(`${job.url}: got ${size} bytes`)
}

await runPool(jobs, concurrency, fetchOne)
console.log(`make-fetch-happen: ${jobs.length} files verified into ${outDir}`)
