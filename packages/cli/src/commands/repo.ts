/**
 * `repo create|add|remove|ls|versions|diff`: repositories of content units with immutable numbered versions, kept
 * in the catalog's database. `repo add -i MANIFEST` fetches every unit's artifact first (as `fetch -i` does) and
 * adds those that arrived; with `--on-demand` it only declares them (digests, size and sources), and `serve` fetches
 * each one when a client first asks for it.
 */
import { Args, Command, Options } from "@effect/cli"
import {
  addOnDemand,
  Catalog,
  type ContentUnit,
  fetchAndAdd,
  onDemandOfEntry,
  parseRepositoryManifest,
  Repositories,
  type RepositoryVersion,
  repositoryName,
  Storage,
  type UnitPath,
  unitPath,
  VersionNumber,
  type VersionSelector
} from "@cargohold/core"
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import { liveOnlyProgress, withRepositories } from "../env.js"
import { Finished, rejectFlagLikeArgs, UsageError } from "../errors.js"
import { fileRoot, json, location } from "../options/common.js"
import { printErr, printJson, printOut, table } from "../output.js"
import { formatBytes } from "../progress/format.js"
import { resultJson, resultLine } from "./fetchResults.js"

const usage = (message: string) => new UsageError({ message })

const nameArg = Args.text({ name: "NAME" }).pipe(Args.withDescription("the repository's name"))

/** A repository name from the command line (a usage error when malformed). */
const checkedName = (raw: string) =>
  Effect.gen(function* () {
    const flagLike = rejectFlagLikeArgs([raw])
    if (flagLike !== undefined) return yield* Effect.fail(flagLike)
    return yield* Effect.mapError(repositoryName(raw), (e) => usage(`repository name '${raw}': ${e.reason}`))
  })

/** `N`, or `latest`. */
const checkedVersion = (raw: string): Effect.Effect<VersionSelector, UsageError> =>
  raw === "latest"
    ? Effect.succeed("latest")
    : /^\d{1,15}$/.test(raw)
      ? Effect.succeed(VersionNumber.make(Number(raw)))
      : Effect.fail(usage(`a version is a number or 'latest', got '${raw}'`))

/** `NAME` or `NAME@VERSION`. */
const nameAndVersion = (raw: string) =>
  Effect.gen(function* () {
    const at = raw.lastIndexOf("@")
    const name = yield* checkedName(at === -1 ? raw : raw.slice(0, at))
    const version = at === -1 ? ("latest" as const) : yield* checkedVersion(raw.slice(at + 1))
    return { name, version }
  })

const versionLine = (v: RepositoryVersion) =>
  `${v.repository}@${v.number}: ${v.units} unit(s) (+${v.added} -${v.removed}), ${v.createdAt.toISOString()}`

const versionJson = (v: RepositoryVersion) => ({
  repository: v.repository,
  version: v.number,
  createdAt: v.createdAt.toISOString(),
  units: v.units,
  added: v.added,
  removed: v.removed
})

const unitJson = (u: ContentUnit, stored?: boolean) => ({
  path: u.path,
  sha256: u.sha256,
  size: u.size,
  digests: u.digests,
  ...(u.metadata === undefined ? {} : { metadata: u.metadata }),
  ...(stored === undefined ? {} : { stored })
})

export const repoCreate = Command.make("create", { name: nameArg, ...location }, (flags) =>
  Effect.gen(function* () {
    const name = yield* checkedName(flags.name)
    const version = yield* withRepositories(flags)(Effect.flatMap(Repositories, (r) => r.create(name)))
    yield* printOut(`created ${version.repository} (version 0, empty)`)
  })
).pipe(Command.withDescription("create an empty repository (its version 0)"))

const readText = (path: string) =>
  Effect.try({
    try: () => readFileSync(path === "-" ? 0 : path, "utf8"),
    catch: (error) => usage(`cannot read ${path === "-" ? "standard input" : path}: ${error instanceof Error ? error.message : String(error)}`)
  })

const fileRootOption = fileRoot("the manifest's file:// URLs")

export const repoAdd = Command.make(
  "add",
  {
    name: nameArg,
    input: Options.text("input").pipe(
      Options.withAlias("i"),
      Options.withPseudoName("FILE"),
      Options.withDescription("a manifest naming each unit's path: JSON Lines with \"path\" (and \"metadata\"), or Metalink 4 (file name = path); `-` reads stdin")
    ),
    onDemand: Options.boolean("on-demand").pipe(
      Options.withDescription("declare the units (sha256, size and sources required) without downloading; `serve` fetches each on first request")
    ),
    fileRoot: fileRootOption,
    json,
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const name = yield* checkedName(flags.name)
      const text = yield* readText(flags.input)
      const label = flags.input === "-" ? "standard input" : flags.input
      const format = /\.(meta4|metalink)$/i.test(flags.input) ? "metalink" : /\.(jsonl|ndjson)$/i.test(flags.input) ? "jsonl" : "auto"
      const entries = yield* parseRepositoryManifest(text, { format, onDemand: flags.onDemand }).pipe(
        Effect.mapError((error) => usage(`${label}: ${error.message}`))
      )
      const failed = yield* withRepositories(flags, {
        progress: flags.onDemand ? undefined : liveOnlyProgress,
        fileRoots: flags.fileRoot
      })(
        Effect.gen(function* () {
          if (flags.onDemand) {
            const change = yield* addOnDemand(name, entries.map(onDemandOfEntry))
            yield* printErr(`${change.changed ? "made" : "unchanged:"} ${versionLine(change.version)}; ${entries.length} unit(s) on demand`)
            return 0
          }
          const { change, results } = yield* fetchAndAdd(name, entries, {
            onResult: (result) =>
              flags.json
                ? printJson(resultJson({ result, line: entries[result.index]?.line }))
                : printOut(resultLine({ result }))
          })
          const failures = results.filter((r) => r._tag === "Failed").length
          if (change !== undefined) yield* printErr(`${change.changed ? "made" : "unchanged:"} ${versionLine(change.version)}`)
          if (failures > 0) yield* printErr(`cargohold: ${failures} artifact(s) failed and were not added`)
          return failures
        })
      ).pipe(Effect.catchTag("InvalidUnit", (e) => Effect.fail(usage(e.message))))
      if (failed > 0) return yield* Effect.fail(new Finished({ code: 1 }))
    })
).pipe(Command.withDescription("add the units of a manifest to a repository (fetched first, or --on-demand), making a new version"))

export const repoRemove = Command.make(
  "remove",
  { name: nameArg, paths: Args.text({ name: "PATH" }).pipe(Args.withDescription("the paths of the units to remove"), Args.repeated), ...location },
  (flags) =>
    Effect.gen(function* () {
      const name = yield* checkedName(flags.name)
      if (flags.paths.length === 0) return yield* Effect.fail(usage("repo remove needs at least one PATH"))
      const paths: Array<UnitPath> = []
      for (const raw of flags.paths) paths.push(yield* Effect.mapError(unitPath(raw), (e) => usage(e.message)))
      const change = yield* withRepositories(flags)(Effect.flatMap(Repositories, (r) => r.removeUnits(name, paths)))
      yield* printOut(`made ${versionLine(change.version)}`)
    })
).pipe(Command.withDescription("remove the units at these paths from a repository, making a new version"))

/** Whether each unit's artifact is stored (with a good copy) in the current store. */
const storedFlags = (units: ReadonlyArray<ContentUnit>) =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    const storage = yield* Storage
    const sha256s = [...new Set(units.map((u) => u.sha256))]
    const known = yield* catalog.lookupMany(sha256s)
    return units.map((u) => {
      const entry = known.get(u.sha256)?.entry
      return entry !== undefined && Option.isSome(entry) && entry.value.locations.some((l) => l.store === storage.id && l.state === "ok")
    })
  })

export const repoLs = Command.make(
  "ls",
  { target: Args.text({ name: "NAME[@VERSION]" }).pipe(Args.withDescription("a repository, at one version (default the latest)")), json, ...location },
  (flags) =>
    Effect.gen(function* () {
      const { name, version } = yield* nameAndVersion(flags.target)
      yield* withRepositories(flags)(
        Effect.gen(function* () {
          const units = yield* (yield* Repositories).listUnits(name, version)
          const stored = yield* storedFlags(units)
          if (flags.json) {
            for (let i = 0; i < units.length; i++) yield* printJson(unitJson(units[i]!, stored[i]))
            return
          }
          if (units.length === 0) return yield* printErr(`${name}@${version}: no units`)
          yield* printOut(
            table(units.map((u, i) => [u.path, formatBytes(u.size), stored[i] ? "stored" : "on-demand", u.sha256]))
          )
        })
      )
    })
).pipe(Command.withDescription("list the units of a repository version (default the latest), with whether each is stored"))

export const repoVersions = Command.make("versions", { name: nameArg, json, ...location }, (flags) =>
  Effect.gen(function* () {
    const name = yield* checkedName(flags.name)
    const all = yield* withRepositories(flags)(Effect.flatMap(Repositories, (r) => r.versions(name)))
    for (const v of all) yield* flags.json ? printJson(versionJson(v)) : printOut(versionLine(v))
  })
).pipe(Command.withDescription("list a repository's versions, oldest first"))

export const repoDiff = Command.make(
  "diff",
  { name: nameArg, from: Args.text({ name: "A" }).pipe(Args.withDescription("the older version (a number or 'latest')")),
    to: Args.text({ name: "B" }).pipe(Args.withDescription("the newer version (a number or 'latest')")), json, ...location },
  (flags) =>
    Effect.gen(function* () {
      const name = yield* checkedName(flags.name)
      const from = yield* checkedVersion(flags.from)
      const to = yield* checkedVersion(flags.to)
      const d = yield* withRepositories(flags)(Effect.flatMap(Repositories, (r) => r.diff(name, from, to)))
      if (flags.json) {
        return yield* printJson({
          repository: d.repository,
          from: d.from,
          to: d.to,
          added: d.added.map((u) => unitJson(u)),
          removed: d.removed.map((u) => unitJson(u)),
          changed: d.changed.map((c) => ({ path: c.path, from: unitJson(c.from), to: unitJson(c.to) }))
        })
      }
      const lines: Array<Array<string>> = [
        ...d.added.map((u) => ["+", u.path, u.sha256]),
        ...d.removed.map((u) => ["-", u.path, u.sha256]),
        ...d.changed.map((c) => ["~", c.path, `${c.from.sha256} -> ${c.to.sha256}`])
      ].sort((a, b) => (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0))
      yield* printErr(`${name}: ${d.from} -> ${d.to}: +${d.added.length} -${d.removed.length} ~${d.changed.length}`)
      if (lines.length > 0) yield* printOut(table(lines))
    })
).pipe(Command.withDescription("what changed between two versions of a repository (A and B: numbers or 'latest')"))

export const repoCommand = Command.make("repo").pipe(
  Command.withDescription("repositories of content units with immutable numbered versions"),
  Command.withSubcommands([repoCreate, repoAdd, repoRemove, repoLs, repoVersions, repoDiff])
)
