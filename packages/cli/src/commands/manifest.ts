/**
 * `fetch -i FILE|-`: reads a manifest and validates all of it; any bad line is a usage error naming every problem
 * with its line number, and nothing is downloaded. Warnings (ignored Metalink `<metaurl>`…) go to stderr.
 * Only the manifest's text is held: the validation keeps none of its requests, and the batch reads them again
 * as it pulls them (`requests`), so memory does not grow with the number of artifacts beyond the text itself.
 */
import { type DownloadRequestInput, formatFromName, manifestEntries, scanManifest } from "@cargohold/core"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { UsageError } from "../errors.js"
import { printErr } from "../output.js"

/** A validated manifest: how many requests, their sizes, and the requests themselves as often as asked. */
export interface ManifestRequests {
  readonly count: number
  /** Sum of the sizes, when every request gives one. */
  readonly bytesExpected: number | undefined
  /** The requests in manifest order, parsed again at each call, with the line each starts on. */
  readonly entries: () => Iterable<{ readonly request: DownloadRequestInput; readonly line: number }>
}

export const readManifest = (path: string): Effect.Effect<ManifestRequests, UsageError> =>
  Effect.gen(function* () {
    const name = path === "-" ? "standard input" : path
    const text = yield* Effect.try({
      try: () => readFileSync(path === "-" ? 0 : path, "utf8"),
      catch: (error) => new UsageError({ message: `cannot read ${name}: ${error instanceof Error ? error.message : String(error)}` })
    })
    const scan = yield* scanManifest(text, path === "-" ? "auto" : (formatFromName(path) ?? "auto")).pipe(
      Effect.mapError((error) => new UsageError({ message: `${name}: ${error.message}` }))
    )
    for (const warning of scan.warnings) yield* printErr(`cargohold: ${name} line ${warning.line}: ${warning.message} (ignored)`)
    return {
      count: scan.count,
      bytesExpected: scan.allSized ? scan.totalBytes : undefined,
      entries: () => manifestEntries(text, scan.format)
    }
  })
