/**
 * Catalog queries: `whereis SHA256|URL [--json]` and `ls [--json]`.
 */
import { Args, Command, Options } from "@effect/cli"
import { Catalog, parseWhereisQuery, type Whereabouts, whereaboutsJson, whereis } from "@cargohold/core"
import { Effect, Option } from "effect"
import { withServices } from "../env.js"
import { Finished, rejectFlagLikeArgs, UsageError } from "../errors.js"
import { json, location } from "../options/common.js"
import { printErr, printJson, printOut, table } from "../output.js"
import { formatBytes } from "../progress/format.js"

const when = (date: Date | undefined) => (date === undefined ? "never" : date.toISOString())

/** The human form of whereis. */
export const whereaboutsText = (w: Whereabouts): string => {
  const head: Array<[string, string]> = [["sha256", w.sha256]]
  if (w.size !== undefined) head.push(["size", `${w.size} (${formatBytes(w.size)})`])
  for (const [algorithm, hex] of Object.entries(w.digests)) if (algorithm !== "sha256" && hex !== undefined) head.push([algorithm, hex])
  const lines = [table(head)]
  lines.push(w.locations.length === 0 ? "locations: none (not stored)" : "locations:")
  if (w.locations.length > 0) {
    lines.push(
      table(
        w.locations.map((l) => [` ${l.store}`, l.key, l.state, `stored ${l.storedAt.toISOString()}`, `verified ${when(l.verifiedAt)}`])
      )
    )
  }
  lines.push(w.sources.length === 0 ? "sources: none" : "sources:")
  if (w.sources.length > 0) {
    lines.push(
      table(
        w.sources.map((s) => [
          ` ${s.url}`,
          `remote ${s.remote ?? "-"}`,
          `priority ${s.priority}`,
          s.consecutiveFailures > 0
            ? `failing ×${s.consecutiveFailures} (${s.lastErrorTag ?? "?"}, ${when(s.lastFailure)})`
            : `ok (last success ${when(s.lastSuccess)})`,
          s.servedSha256 !== undefined ? `served ${s.servedSha256}` : ""
        ])
      )
    )
  }
  if (w.downloads.length > 0) {
    lines.push("downloads (newest first):")
    lines.push(
      table(
        w.downloads.map((d) => [
          ` ${d.at.toISOString()}`,
          d.finalUrl === d.url ? d.url : `${d.url} → ${d.finalUrl}`,
          `peer ${d.peerAddress ?? "-"}`,
          d.protocol ?? "-",
          d.tlsFingerprint === undefined ? "" : `tls sha256 ${d.tlsFingerprint}`
        ])
      )
    )
  }
  return lines.join("\n")
}

export const whereisCommand = Command.make(
  "whereis",
  {
    query: Args.text({ name: "SHA256|URL" }).pipe(Args.withDescription("a sha256, another digest as ALG:HEX, or a URL it was fetched from")),
    json,
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const flagLike = rejectFlagLikeArgs([flags.query])
      if (flagLike !== undefined) return yield* Effect.fail(flagLike)
      const parsed = parseWhereisQuery(flags.query)
      if (parsed._tag === "Invalid") return yield* Effect.fail(new UsageError({ message: `whereis '${flags.query}': ${parsed.reason}` }))
      const found = yield* withServices(flags)(whereis(flags.query))
      if (Option.isNone(found)) {
        yield* printErr(`cargohold: ${flags.query} is not in the catalog`)
        return yield* Effect.fail(new Finished({ code: 1 }))
      }
      yield* flags.json ? printJson(whereaboutsJson(found.value)) : printOut(whereaboutsText(found.value))
    })
).pipe(Command.withDescription("everything the catalog knows about one artifact: digests, locations, sources"))

const pageSize = 1000

export const lsCommand = Command.make(
  "ls",
  {
    json,
    limit: Options.integer("limit").pipe(Options.withPseudoName("N"), Options.withDescription("at most this many artifacts"), Options.optional),
    ...location
  },
  (flags) => {
    const limit = Option.getOrElse(flags.limit, () => Number.POSITIVE_INFINITY)
    if (limit < 1) return Effect.fail(new UsageError({ message: `--limit must be at least 1, got ${limit}` }))
    return withServices(flags)(
      Effect.gen(function* () {
        const catalog = yield* Catalog
        let offset = 0
        while (offset < limit) {
          const rows = yield* catalog.list({ limit: Math.min(pageSize, limit - offset), offset })
          for (const row of rows) {
            yield* flags.json
              ? printJson({ sha256: row.sha256, size: row.size, digests: row.digests, firstSeen: row.firstSeen.toISOString() })
              : printOut(`${row.sha256}  ${formatBytes(row.size).padStart(9)}  ${row.firstSeen.toISOString()}`)
          }
          if (rows.length < pageSize) break
          offset += rows.length
        }
      })
    )
  }
).pipe(Command.withDescription("list catalogued artifacts, newest first"))
