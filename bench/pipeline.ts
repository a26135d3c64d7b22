/**
 * The pipeline's own CPU per artifact, without network, disk or SQLite: `fetchMany` over an in-memory HttpClient
 * (16 KiB bodies with a content-length), in-memory Storage and Catalog, the node:crypto hasher. What is left is
 * the Effect machinery of one download, which this measures in µs of CPU per artifact.
 * usage: npx tsx bench/pipeline.ts [artifacts=20000] [bodyBytes=16384] [fetchMany|download] [fibers] [ops] [platform]
 * `fibers` also counts the fibers started per artifact (a supervisor sees every start; it costs a little CPU).
 * `ops` counts the Effect instructions the runtime evaluates per artifact, by kind and site (a supervisor with op
 * supervision: slow, so its timings mean nothing). Unlike CPU time it does not swing with the machine's load.
 * Bodies come through a stub of the lean exchange (`HttpExchange`, what layerNode provides) unless `platform` is
 * given: then through the platform HttpClient (web Response bodies, a watchdog fiber per attempt).
 */
import { createHash } from "node:crypto"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { download, type Exchange, fetchMany, HttpExchange, layerSilent } from "@cargohold/core"
import { layerMemoryBackends } from "@cargohold/core/testing"
import { layerNodeHasher } from "@cargohold/node"
import { Effect, Layer, RuntimeFlags, RuntimeFlagsPatch, Stream, Supervisor } from "effect"

const count = Number(process.argv[2] ?? 20000)
const bodyBytes = Number(process.argv[3] ?? 16384)
const api = process.argv[4] ?? "fetchMany"
const countFibers = process.argv.slice(5).includes("fibers")
const countOps = process.argv.slice(5).includes("ops")
const platform = process.argv.slice(5).includes("platform")

/** Counts fiber starts. */
class FiberCounter extends Supervisor.AbstractSupervisor<number> {
  started = 0
  get value() {
    return Effect.sync(() => this.started)
  }
  override onStart() {
    this.started += 1
  }
}
const fibers = new FiberCounter()

/** The fields of Effect's instructions this reads (they are plain own properties of every primitive). */
interface Instruction {
  readonly _op?: string
  readonly effect_instruction_i0?: unknown
  readonly effect_instruction_i1?: unknown
  readonly key?: unknown
}

/** What an instruction is and where it comes from: its kind, and the start of its function's source or its value. */
const siteOf = (effect: Instruction): string => {
  const op = String(effect._op)
  const fn = typeof effect.effect_instruction_i1 === "function" ? effect.effect_instruction_i1 : effect.effect_instruction_i0
  if (op === "Tag") return `${op} ${String(effect.key)}`
  if (op === "Commit" && typeof fn !== "function") {
    const commit = (effect as { readonly commit?: unknown }).commit
    return `${op} ${effect.constructor?.name ?? ""} ${String(commit).replace(/\s+/g, " ").slice(0, 90)}`
  }
  if (op === "Success") {
    const value = effect.effect_instruction_i0
    return `${op} ${value === null || typeof value !== "object" ? typeof value : (value.constructor?.name ?? "object")}`
  }
  return typeof fn === "function" ? `${op} ${String(fn).replace(/\s+/g, " ").slice(0, 100)}` : op
}

/** Counts the instructions evaluated, by site. */
class OpCounter extends Supervisor.AbstractSupervisor<number> {
  ops = 0
  readonly sites = new Map<string, number>()
  get value() {
    return Effect.sync(() => this.ops)
  }
  override onEffect(_fiber: unknown, effect: Effect.Effect<unknown, unknown, unknown>) {
    this.ops += 1
    const site = siteOf(effect as Instruction)
    this.sites.set(site, (this.sites.get(site) ?? 0) + 1)
  }
}
const ops = new OpCounter()

const bodyOf = (i: number): Uint8Array<ArrayBuffer> => {
  const body = new Uint8Array(bodyBytes)
  new DataView(body.buffer).setUint32(0, i)
  return body
}
const requests = Array.from({ length: count }, (_, i) => ({
  url: `http://127.0.0.1:1/f${i}`,
  sha256: createHash("sha256").update(bodyOf(i)).digest("hex"),
  size: bodyBytes
}))

const client = HttpClient.make((request, url) =>
  Effect.sync(() => {
    const body = bodyOf(Number(url.pathname.slice(2)))
    return HttpClientResponse.fromWeb(
      request,
      new Response(body, { status: 200, headers: { "content-length": String(body.length) } })
    )
  })
)
/** The lean exchange's contract over the same bodies: one chunk, as a 16 KiB body arrives from a socket. */
const exchange: Exchange = {
  send: (request) =>
    Effect.sync(() => {
      const body = bodyOf(Number(new URL(request.url).pathname.slice(2)))
      const length = String(body.length)
      return {
        status: 200,
        header: (name: string) => (name === "content-length" ? length : undefined),
        pipe: (sink) =>
          Effect.promise(async () => {
            await sink(body)
          }),
        discard: () => Effect.void
      }
    })
}
const lean = Layer.succeed(HttpExchange, { forConnection: () => exchange })
const layer = Layer.mergeAll(
  Layer.succeed(HttpClient.HttpClient, client),
  platform ? Layer.empty : lean,
  layerMemoryBackends,
  layerSilent,
  layerNodeHasher
)

const work =
  api === "download"
    ? Effect.forEach(requests, (request) => download(request), { concurrency: 64, discard: true })
    : Stream.runDrain(fetchMany(Stream.fromIterable(requests), { concurrency: 64, total: count }))
const run = countOps
  ? Effect.withRuntimeFlagsPatch(Effect.supervised(work, ops), RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision))
  : countFibers
    ? Effect.supervised(work, fibers)
    : work
const before = process.cpuUsage()
const started = performance.now()
await Effect.runPromise(Effect.provide(run, layer))
const cpu = process.cpuUsage(before)
const ms = performance.now() - started
console.log(
  `${api}${platform ? " (platform HttpClient)" : ""}, ${count} artifacts: ${ms.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU, ` +
    `${((cpu.user + cpu.system) / count).toFixed(1)} µs CPU per artifact`
)
if (countFibers) console.log(`fibers started: ${fibers.started} (${(fibers.started / count).toFixed(2)} per artifact)`)
if (countOps) {
  console.log(`Effect instructions per artifact: ${(ops.ops / count).toFixed(1)}; the most frequent sites:`)
  for (const [site, n] of [...ops.sites].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.OPS_TOP ?? 40))) {
    console.log(`${(n / count).toFixed(2).padStart(8)}  ${site}`)
  }
}
