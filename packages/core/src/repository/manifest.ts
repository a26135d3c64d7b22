/**
 * Repository manifests: the `fetch` manifests with a path for each unit — a `path` field (and optional `metadata`)
 * in JSON Lines, the `name` of each Metalink `<file>`. Plain URL lists name no path and are refused. Validated as a
 * whole: any bad line fails with a `ManifestError` naming every problem, and nothing is fetched or added.
 */
import { Effect, Schema } from "effect"
import { ManifestError, type ManifestProblem } from "../domain/errors.js"
import type { DownloadRequestInput } from "../domain/request.js"
import { detectFormat, parseManifest } from "../manifest/parse.js"
import type { ManifestFormat } from "../manifest/types.js"
import { contentLines } from "../manifest/types.js"
import { Json, type JsonValue, unitPathProblem } from "./schema.js"

/** One unit a manifest describes: where it goes, its metadata, and the request that gets (or declares) it. */
export interface RepositoryManifestEntry {
  readonly line: number
  readonly path: string
  readonly metadata: JsonValue | undefined
  readonly request: DownloadRequestInput
}

const isJson = Schema.is(Json)

/** JSON Lines: takes `path` and `metadata` off each line; the rest is an ordinary `fetch` line. */
const splitJsonl = (text: string, onDemand: boolean) => {
  const problems: Array<ManifestProblem> = []
  const units = new Map<number, { path: string; metadata: JsonValue | undefined }>()
  const lines = text.split(/\r?\n/)
  const seen = new Map<string, number>()
  for (const { line, content } of contentLines(text)) {
    let value: unknown
    try {
      value = JSON.parse(content)
    } catch {
      continue // the fetch parser reports it
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) continue
    const { path, metadata, ...rest } = value as Record<string, unknown>
    if (typeof path !== "string") problems.push({ line, message: 'needs a "path" (the unit\'s path in the repository)' })
    else {
      const problem = unitPathProblem(path)
      if (problem !== undefined) problems.push({ line, message: `path '${path}': ${problem}` })
    }
    if (metadata !== undefined && !isJson(metadata)) problems.push({ line, message: '"metadata" must be a JSON value' })
    if (typeof path === "string") {
      const first = seen.get(path)
      if (first !== undefined) problems.push({ line, message: `path '${path}' is already given on line ${first}` })
      else seen.set(path, line)
    }
    if (onDemand) {
      const digests = rest.digests as Record<string, unknown> | undefined
      const label = typeof path === "string" ? `${path}: ` : ""
      if (rest.sha256 === undefined && digests?.sha256 === undefined) {
        problems.push({ line, message: `${label}an on-demand unit needs its sha256` })
      }
      if (rest.size === undefined) problems.push({ line, message: `${label}an on-demand unit needs its size` })
    }
    units.set(line, { path: typeof path === "string" ? path : "", metadata: metadata as JsonValue | undefined })
    lines[line - 1] = JSON.stringify(rest)
  }
  return { problems, units, text: lines.join("\n") }
}

/**
 * Parses a repository manifest (`format` "auto": detected). With `onDemand`, every unit must give its sha256 and
 * size (an on-demand unit is declared, not downloaded, so nothing else would tell them).
 */
export const parseRepositoryManifest = (
  text: string,
  options: { readonly format?: ManifestFormat | "auto" | undefined; readonly onDemand?: boolean | undefined } = {}
): Effect.Effect<ReadonlyArray<RepositoryManifestEntry>, ManifestError> =>
  Effect.gen(function* () {
    const body = text.replace(/^\uFEFF/, "")
    const format = options.format === undefined || options.format === "auto" ? detectFormat(body) : options.format
    if (format === "lines") {
      return yield* new ManifestError({
        format,
        problems: [{ line: 1, message: "a repository manifest names each unit's path: JSON Lines with \"path\", or Metalink 4" }]
      })
    }
    const split = format === "jsonl" ? splitJsonl(body, options.onDemand === true) : undefined
    const parsed = yield* Effect.either(parseManifest(split?.text ?? body, format))
    const problems = [...(split?.problems ?? []), ...(parsed._tag === "Left" ? parsed.left.problems : [])]
    const entries: Array<RepositoryManifestEntry> = []
    if (parsed._tag === "Right") {
      const { requests, lines, names } = parsed.right
      const seen = new Map<string, number>()
      requests.forEach((request, i) => {
        const line = lines[i]!
        const unit = split?.units.get(line)
        const path = unit?.path ?? names[i] ?? ""
        // JSON Lines were checked line by line above (also when another line failed to parse)
        if (split === undefined) {
          const problem = unitPathProblem(path)
          if (problem !== undefined) problems.push({ line, message: `file name '${path}': ${problem}` })
          const first = seen.get(path)
          if (first !== undefined) problems.push({ line, message: `path '${path}' is already given on line ${first}` })
          seen.set(path, line)
          if (options.onDemand === true) {
            if ((request.sha256 ?? request.digests?.sha256) === undefined) {
              problems.push({ line, message: `${path}: an on-demand unit needs its sha256` })
            }
            if (request.size === undefined) problems.push({ line, message: `${path}: an on-demand unit needs its size` })
          }
        }
        entries.push({ line, path, metadata: unit?.metadata, request })
      })
    }
    if (problems.length > 0) {
      problems.sort((a, b) => a.line - b.line)
      return yield* new ManifestError({ format, problems })
    }
    return entries
  })
