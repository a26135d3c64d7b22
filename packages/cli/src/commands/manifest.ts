/**
 * `fetch -i FILE|-`: reads a manifest and validates all of it; any bad line is a usage error naming every problem
 * with its line number, and nothing is downloaded. Warnings (ignored Metalink `<metaurl>`…) go to stderr.
 */
import { type DownloadRequestInput, formatFromName, parseManifest } from "@cargohold/core"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { UsageError } from "../errors.js"
import { printErr } from "../output.js"

/** The manifest's requests, with the line each starts on. */
export interface ManifestRequests {
  readonly requests: ReadonlyArray<DownloadRequestInput>
  readonly lines: ReadonlyArray<number>
}

export const readManifest = (path: string): Effect.Effect<ManifestRequests, UsageError> =>
  Effect.gen(function* () {
    const name = path === "-" ? "standard input" : path
    const text = yield* Effect.try({
      try: () => readFileSync(path === "-" ? 0 : path, "utf8"),
      catch: (error) => new UsageError({ message: `cannot read ${name}: ${error instanceof Error ? error.message : String(error)}` })
    })
    const parsed = yield* parseManifest(text, path === "-" ? "auto" : (formatFromName(path) ?? "auto")).pipe(
      Effect.mapError((error) => new UsageError({ message: `${name}: ${error.message}` }))
    )
    for (const warning of parsed.warnings) yield* printErr(`cargohold: ${name} line ${warning.line}: ${warning.message} (ignored)`)
    return { requests: parsed.requests, lines: parsed.lines }
  })
