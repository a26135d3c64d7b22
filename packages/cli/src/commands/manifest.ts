/**
 * `fetch -i FILE|-`: reads a manifest and validates all of it; any bad line is a usage error naming every problem
 * with its line number, and nothing is downloaded. Warnings (ignored Metalink `<metaurl>`…) go to stderr.
 * The validation keeps none of its requests, and the batch reads them again as it pulls them (`requests`): from
 * the file itself when it is a regular file (read again in chunks, each checked against the validated read —
 * manifestFile.ts), so memory does not grow with the number of artifacts; standard input and pipes are held
 * as text (they cannot be read twice).
 */
import { type DownloadRequestInput, formatFromName, type ManifestText, manifestEntries, scanManifest } from "@cargohold/core"
import { Effect } from "effect"
import { readFileSync, statSync } from "node:fs"
import { ManifestFile } from "./manifestFile.js"
import { UsageError } from "../errors.js"
import { printErr } from "../output.js"

/** A validated manifest: how many requests, their sizes, and the requests themselves as often as asked. */
export interface ManifestRequests {
  readonly count: number
  /** Sum of the sizes, when every request gives one. */
  readonly bytesExpected: number | undefined
  /** The requests in manifest order, parsed again at each call, with the line each starts on. */
  readonly entries: () => Iterable<{ readonly request: DownloadRequestInput; readonly line: number }>
  /** Set when the file was found changed after it was validated: the entries stopped there. */
  readonly changed: () => string | undefined
}

export const readManifest = (path: string): Effect.Effect<ManifestRequests, UsageError> =>
  Effect.gen(function* () {
    const name = path === "-" ? "standard input" : path
    const fail = (error: unknown) =>
      new UsageError({ message: `cannot read ${name}: ${error instanceof Error ? error.message : String(error)}` })
    const regular = path !== "-" && (yield* Effect.try({ try: () => statSync(path).isFile(), catch: fail }))
    const file = regular ? new ManifestFile(path) : undefined
    const text: ManifestText = file !== undefined ? file.chunks : yield* Effect.try({ try: () => readFileSync(path === "-" ? 0 : path, "utf8"), catch: fail })
    const scan = yield* scanManifest(text, path === "-" ? "auto" : (formatFromName(path) ?? "auto")).pipe(
      Effect.mapError((error) => new UsageError({ message: `${name}: ${error.message}` }))
    )
    if (file?.changed !== undefined) return yield* Effect.fail(new UsageError({ message: `${name} changed while it was validated: ${file.changed}` }))
    for (const warning of scan.warnings) yield* printErr(`cargohold: ${name} line ${warning.line}: ${warning.message} (ignored)`)
    return {
      count: scan.count,
      bytesExpected: scan.allSized ? scan.totalBytes : undefined,
      entries: () => manifestEntries(text, scan.format),
      changed: () => (file?.changed === undefined ? undefined : `${name} changed after it was validated: ${file.changed}; the rest of it was not fetched`)
    }
  })
