/**
 * Checking units before any backend sees them, and the rules every backend applies the same way: when two units
 * are the same, which folders a path implies, and what a change to a version does.
 */
import { Effect, Schema } from "effect"
import {
  type Algorithm,
  algorithms,
  ByteSize,
  checkHexLength,
  HexDigest,
  isAlgorithm,
  Sha256
} from "../domain/digest.js"
import { InvalidUnit } from "./errors.js"
import { type ContentUnit, Json, type JsonValue, RepositoryName, type UnitInput, UnitPath, unitPathProblem } from "./schema.js"

const isJson = Schema.is(Json)

/** Metadata as one canonical text (keys sorted): two units with equal metadata have equal texts. */
export const canonicalJson = (value: JsonValue): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

/** The same artifact at the same path with the same metadata. */
export const sameUnit = (a: ContentUnit, b: ContentUnit): boolean =>
  a.path === b.path &&
  a.sha256 === b.sha256 &&
  a.size === b.size &&
  (a.metadata === undefined ? b.metadata === undefined : b.metadata !== undefined && canonicalJson(a.metadata) === canonicalJson(b.metadata))

/** The folders a path lies in: `a/b/c` → `a`, `a/b`. */
export const foldersOf = (path: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) out.push(path.slice(0, i))
  return out
}

const invalid = (path: string, reason: string) => new InvalidUnit({ path, reason })

/** A repository name, checked. */
export const repositoryName = (name: string): Effect.Effect<RepositoryName, InvalidUnit> =>
  Schema.decodeUnknown(RepositoryName)(name).pipe(
    Effect.mapError(() =>
      invalid(
        name,
        name.toLowerCase() === "sha256"
          ? "'sha256' is reserved as a repository name (the /sha256/HEX route)"
          : "a repository name is 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
      )
    )
  )

/** A unit path, checked. */
export const unitPath = (path: string): Effect.Effect<UnitPath, InvalidUnit> => {
  const problem = unitPathProblem(path)
  return problem === undefined ? Effect.succeed(UnitPath.make(path)) : Effect.fail(invalid(path, problem))
}

/** One unit, checked: path, sha256, size, other digests (lower-cased), metadata (JSON). */
export const checkUnit = (input: UnitInput): Effect.Effect<ContentUnit, InvalidUnit> =>
  Effect.gen(function* () {
    const path = yield* unitPath(input.path)
    const sha256 = input.sha256.trim().toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(sha256)) return yield* invalid(path, `sha256 must be 64 hexadecimal characters, got '${input.sha256}'`)
    if (!(Number.isSafeInteger(input.size) && input.size >= 0)) {
      return yield* invalid(path, `size must be a non-negative integer, got ${input.size}`)
    }
    const others: { [A in Exclude<Algorithm, "sha256">]?: HexDigest } = {}
    for (const [name, value] of Object.entries(input.digests ?? {})) {
      if (value === undefined) continue
      const algorithm = name.toLowerCase().replace(/-/g, "")
      if (!isAlgorithm(algorithm)) return yield* invalid(path, `unknown digest algorithm '${name}' (known: ${algorithms.join(", ")})`)
      const hex = value.trim().toLowerCase()
      if (!/^[0-9a-f]+$/.test(hex)) return yield* invalid(path, `${algorithm} digest is not hexadecimal: '${value}'`)
      const problem = checkHexLength(algorithm, hex)
      if (problem !== undefined) return yield* invalid(path, problem)
      if (algorithm === "sha256" && hex !== sha256) return yield* invalid(path, "two different sha256 digests given")
      if (algorithm !== "sha256") others[algorithm] = HexDigest.make(hex)
    }
    if (input.metadata !== undefined && !isJson(input.metadata)) return yield* invalid(path, "metadata must be a JSON value")
    const id = Sha256.make(sha256)
    return {
      path,
      sha256: id,
      size: ByteSize.make(input.size),
      digests: { ...others, sha256: id },
      ...(input.metadata === undefined ? {} : { metadata: input.metadata })
    }
  })

/**
 * Units checked one by one and as a set: no two different units at one path (identical repeats collapse), no path
 * that is a folder of another's.
 */
export const checkUnits = (inputs: ReadonlyArray<UnitInput>): Effect.Effect<ReadonlyArray<ContentUnit>, InvalidUnit> =>
  Effect.gen(function* () {
    const byPath = new Map<string, ContentUnit>()
    for (const input of inputs) {
      const unit = yield* checkUnit(input)
      const twin = byPath.get(unit.path)
      if (twin !== undefined && !sameUnit(twin, unit)) return yield* invalid(unit.path, "two different units at this path")
      byPath.set(unit.path, unit)
    }
    for (const path of byPath.keys()) {
      for (const folder of foldersOf(path)) {
        if (byPath.has(folder)) return yield* invalid(folder, `it is a unit and also the folder of '${path}'`)
      }
    }
    return [...byPath.values()]
  })

/** What adding `units` to a version whose units at those paths are `current` does. */
export const planAdd = (
  units: ReadonlyArray<ContentUnit>,
  current: ReadonlyMap<string, ContentUnit>
): { readonly added: ReadonlyArray<ContentUnit>; readonly replaced: ReadonlyArray<ContentUnit> } => {
  const added: Array<ContentUnit> = []
  const replaced: Array<ContentUnit> = []
  for (const unit of units) {
    const existing = current.get(unit.path)
    if (existing !== undefined && sameUnit(existing, unit)) continue
    if (existing !== undefined) replaced.push(existing)
    added.push(unit)
  }
  return { added, replaced }
}

/** A folder conflict between new units and a version's existing paths, as an `InvalidUnit`. */
export const folderConflict = (path: string, other: string): InvalidUnit =>
  invalid(path, other.startsWith(`${path}/`) ? `it is the folder of the existing unit '${other}'` : `the existing unit '${other}' is a file where this path needs a folder`)

/** Differences between two versions' units (both sorted or not). */
export const diffUnits = (
  from: ReadonlyArray<ContentUnit>,
  to: ReadonlyArray<ContentUnit>
): {
  readonly added: Array<ContentUnit>
  readonly removed: Array<ContentUnit>
  readonly changed: Array<{ readonly path: UnitPath; readonly from: ContentUnit; readonly to: ContentUnit }>
} => {
  const before = new Map<string, ContentUnit>(from.map((u) => [u.path, u]))
  const after = new Map<string, ContentUnit>(to.map((u) => [u.path, u]))
  const added: Array<ContentUnit> = []
  const removed: Array<ContentUnit> = []
  const changed: Array<{ path: UnitPath; from: ContentUnit; to: ContentUnit }> = []
  for (const unit of to) {
    const old = before.get(unit.path)
    if (old === undefined) added.push(unit)
    else if (!sameUnit(old, unit)) changed.push({ path: unit.path, from: old, to: unit })
  }
  for (const unit of from) if (!after.has(unit.path)) removed.push(unit)
  const byPath = (a: { readonly path: string }, b: { readonly path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  return { added: added.sort(byPath), removed: removed.sort(byPath), changed: changed.sort(byPath) }
}

/** Units sorted by path (byte order, as the SQL backends sort). */
export const byPath = (a: ContentUnit, b: ContentUnit): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
