/**
 * One of several processes recording the same artifacts into one catalog at the same moment.
 * Usage: node --import tsx test/catalog/child.ts <catalog-url> <text> <start-at-ms>
 * Prints one JSON line: { ok, error? }.
 */
import { layerSqlCatalogFromUrl } from "@cargohold/catalog-sql"
import { Catalog } from "@cargohold/core"
import { Effect } from "effect"
import { record } from "./fixtures.js"

const [url, text, startAt] = process.argv.slice(2) as [string, string, string]

const program = Effect.gen(function* () {
  const wait = Number(startAt) - Date.now()
  if (wait > 0) yield* Effect.sleep(wait)
  const catalog = yield* Catalog
  const shared = record(text, { url: `http://127.0.0.1/${text}/from-${process.pid}` })
  for (let round = 0; round < 10; round++) {
    yield* catalog.recordDownload({ ...shared, at: new Date(Date.now()) })
    yield* catalog.recordDownloads(
      Array.from({ length: 50 }, (_, i) => record(`${text}-batch-${i}`, { at: new Date(Date.now()) }))
    )
    yield* catalog.addSources(shared.sha256, [{ url: `http://127.0.0.1/${text}/declared`, priority: 10 }])
  }
  return yield* catalog.count()
})

Effect.runPromiseExit(Effect.provide(program, layerSqlCatalogFromUrl(url))).then((exit) => {
  process.stdout.write(
    `${JSON.stringify(exit._tag === "Success" ? { ok: true, count: exit.value } : { ok: false, error: String(exit.cause) })}\n`
  )
  process.exitCode = exit._tag === "Success" ? 0 : 1
})
