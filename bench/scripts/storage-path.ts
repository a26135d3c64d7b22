/**
 * One rung of workload 1 between raw undici and the whole pipeline: undici `request()` → sha256 → cargohold's own
 * file Storage (`storage.begin`, `write`, `commit`: temp file, fdatasync, link, shard folder fsyncs) through
 * `layerNode({ home })`, 64 at once, with no pipeline, no catalog writes and no progress. Run beside `cargohold-lib`
 * and `undici-fsync` (the bench's opt-in contender `cargohold-storage`: `npm run bench -- --workload 1 --only
 * undici-fsync,cargohold-storage,cargohold-lib`) it splits what an artifact costs between the store's path and
 * the rest of the pipeline.
 * usage: node storage-path.mjs JOBS HOME
 */
import { createHash } from "node:crypto"
import { ByteSize, Sha256, Storage, type StorageError } from "@cargohold/core"
import { layerNode, limitHeapGrowth, raiseTieringBudget } from "@cargohold/node"
import { Data, Effect } from "effect"
import { Agent, request } from "undici"
import { type Job, readJobs, scriptArgs } from "./jobs.js"

class RungFailure extends Data.TaggedError("RungFailure")<{ readonly message: string }> {}

// as the CLI and the library contender do
limitHeapGrowth()
raiseTieringBudget()
const concurrency = 64
const { jobsPath, outDir: home } = scriptArgs("storage-path JOBS HOME")
const jobs = readJobs(jobsPath)
const dispatcher = new Agent({ connections: concurrency, pipelining: 1 })

const fetchBody = (job: Job): Promise<Array<Buffer>> =>
  request(job.url, { dispatcher }).then(async ({ statusCode, body }) => {
    if (statusCode !== 200) {
      await body.dump()
      throw new Error(`${job.url}: HTTP ${statusCode}`)
    }
    const chunks: Array<Buffer> = []
    const hash = createHash("sha256")
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk)
      chunks.push(chunk)
    }
    const hex = hash.digest("hex")
    if (hex !== job.sha256) throw new Error(`${job.url}: sha256 ${hex}`)
    return chunks
  })

const one = (job: Job): Effect.Effect<void, StorageError | RungFailure, Storage> =>
  Effect.scoped(
    Effect.gen(function* () {
      const storage = yield* Storage
      const temp = yield* storage.begin
      const chunks = yield* Effect.tryPromise({
        try: () => fetchBody(job),
        catch: (cause) => new RungFailure({ message: String(cause) })
      })
      yield* temp.write(chunks)
      yield* Effect.uninterruptible(temp.commit(Sha256.make(job.sha256), ByteSize.make(job.size)))
    })
  )

const program = Effect.forEach(jobs, one, { concurrency, discard: true })
await Effect.runPromise(Effect.provide(program, layerNode({ home, limits: { global: concurrency, perHost: concurrency } })))
await dispatcher.close()
console.log(`storage-path: ${jobs.length} files fetched, verified and committed to ${home}/store`)
