/**
 * Integrity at rest and reading back: `verify`, `replicate`, `export`, `cat`.
 */
import { Args, Command, Options } from "@effect/cli"
import {
  exportTo,
  type LocationVerdict,
  readArtifact,
  replicate,
  Sha256,
  Storage,
  type StorageService,
  unrepaired,
  verify
} from "@cargohold/core"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { existsSync, statSync } from "node:fs"
import { join } from "node:path"
import { layerStoreAt, liveOnlyProgress, withServices } from "../env.js"
import { Finished, rejectFlagLikeArgs, UsageError } from "../errors.js"
import { fileRoot, json, location } from "../options/common.js"
import { printErr, printJson, printOut, stdoutFailed } from "../output.js"
import { fileTarget } from "./exportFile.js"

const usage = (message: string) => new UsageError({ message })

const sha256List = (values: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Sha256>, UsageError> =>
  Effect.suspend(() => {
    const flagLike = rejectFlagLikeArgs(values)
    if (flagLike !== undefined) return Effect.fail(flagLike)
    const bad = values.find((v) => !/^[0-9a-fA-F]{64}$/.test(v.trim()))
    return bad === undefined
      ? Effect.succeed(values.map((v) => Sha256.make(v.trim().toLowerCase())))
      : Effect.fail(usage(`not a sha256: '${bad}'`))
  })

/** `90s`, `45m`, `12h`, `30d`, `2w` → milliseconds. */
export const parseAge = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim())
  if (match === null) return undefined
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as "s" | "m" | "h" | "d" | "w"]
  return Number(match[1]) * unit
}

const verdictLine = (v: LocationVerdict) =>
  `${v.repaired ? "repaired" : v.state.padEnd(8)} ${v.sha256}  ${v.store}  ${v.key}${v.detail !== undefined ? `  (${v.detail})` : ""}`

export const verifyCommand = Command.make(
  "verify",
  {
    sha256s: Args.text({ name: "SHA256" }).pipe(Args.withDescription("the artifacts to check (default: every stored copy)"), Args.repeated),
    olderThan: Options.text("older-than").pipe(Options.withPseudoName("AGE"), Options.withDescription("only copies not verified for this long (90m, 12h, 30d, 2w)"), Options.optional),
    limit: Options.integer("limit").pipe(Options.withPseudoName("N"), Options.withDescription("at most this many copies (oldest-verified first)"), Options.optional),
    repair: Options.boolean("repair").pipe(Options.withDescription("re-fetch bad copies from their sources and replace them")),
    fileRoot: fileRoot("file:// sources of bad copies (for --repair)"),
    json,
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const sha256s = yield* sha256List(flags.sha256s)
      let olderThan: Date | undefined
      if (Option.isSome(flags.olderThan)) {
        const age = parseAge(flags.olderThan.value)
        if (age === undefined) return yield* Effect.fail(usage(`--older-than must look like 90m, 12h, 30d or 2w, got '${flags.olderThan.value}'`))
        olderThan = new Date(Date.now() - age)
      }
      const limit = Option.getOrUndefined(flags.limit)
      if (limit !== undefined && limit < 1) return yield* Effect.fail(usage("--limit must be at least 1"))
      const report = yield* withServices(flags, { progress: liveOnlyProgress, fileRoots: flags.fileRoot })(
        Effect.gen(function* () {
          const storage = yield* Storage
          const options = {
            sha256s: sha256s.length > 0 ? sha256s : undefined,
            store: Option.isSome(flags.store) ? storage.id : undefined,
            olderThan,
            limit
          }
          return yield* flags.repair ? verify({ ...options, repair: true }) : verify(options)
        })
      )
      for (const verdict of report.checked) {
        if (flags.json) yield* printJson(verdict)
        else if (verdict.state !== "ok") yield* printOut(verdictLine(verdict))
      }
      for (const skipped of report.unchecked) {
        if (flags.json) yield* printJson({ ...skipped, state: "unchecked" })
        else yield* printErr(`unchecked ${skipped.sha256}${skipped.store !== undefined ? `  ${skipped.store}` : ""}: ${skipped.reason}`)
      }
      const bad = unrepaired(report).length
      const repaired = report.checked.filter((v) => v.repaired).length
      yield* printErr(
        `verified ${report.checked.length} cop${report.checked.length === 1 ? "y" : "ies"}: ${report.checked.filter((v) => v.state === "ok").length} ok, ${repaired} repaired, ${bad} bad` +
          (report.unchecked.length > 0 ? `, ${report.unchecked.length} unchecked` : "")
      )
      if (bad > 0 || (sha256s.length > 0 && report.unchecked.length > 0)) return yield* Effect.fail(new Finished({ code: 1 }))
    })
).pipe(Command.withDescription("re-read and re-hash stored copies; record ok / corrupt / missing; --repair replaces bad ones"))

/** The Storage a URL names, built in the current scope. */
const storeAt = (url: string) =>
  Layer.build(layerStoreAt(url)).pipe(
    Effect.map((context): StorageService => Context.get(context, Storage)),
    Effect.mapError((error) => usage(`--to ${url}: ${error.message}`))
  )

export const replicateCommand = Command.make(
  "replicate",
  {
    sha256s: Args.text({ name: "SHA256" }).pipe(Args.withDescription("the artifacts to copy (or --all)"), Args.repeated),
    all: Options.boolean("all").pipe(Options.withDescription("every artifact in the catalog")),
    to: Options.text("to").pipe(Options.withPseudoName("URL"), Options.withDescription("target store URL (file:///path, s3://bucket/prefix?endpoint=…)")),
    json,
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const sha256s = yield* sha256List(flags.sha256s)
      if (flags.all === (sha256s.length > 0)) return yield* Effect.fail(usage("give SHA256s or --all (not both)"))
      const results = yield* withServices(flags)(
        Effect.scoped(Effect.flatMap(storeAt(flags.to), (target) => replicate(flags.all ? "all" : sha256s, target)))
      )
      let failed = 0
      for (const result of results) {
        if (result.status === "failed") failed++
        yield* flags.json
          ? printJson(result)
          : printOut(`${result.status.padEnd(7)} ${result.sha256}  → ${result.to}${result.detail !== undefined ? `  (${result.detail})` : ""}`)
      }
      if (failed > 0) return yield* Effect.fail(new Finished({ code: 1 }))
    })
).pipe(Command.withDescription("copy artifacts to another store, verified; the catalog then lists both locations"))

export const exportCommand = Command.make(
  "export",
  {
    sha256: Args.text({ name: "SHA256" }).pipe(Args.withDescription("the artifact to write out")),
    path: Args.text({ name: "PATH" }).pipe(Args.withDescription("the file to create (in a folder: named by its sha256)")),
    force: Options.boolean("force").pipe(Options.withDescription("replace an existing file")),
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const [sha256] = yield* sha256List([flags.sha256])
      const destination = existsSync(flags.path) && statSync(flags.path).isDirectory() ? join(flags.path, sha256!) : flags.path
      if (existsSync(destination) && !flags.force) return yield* Effect.fail(usage(`${destination} exists (use --force to replace it)`))
      const done = yield* withServices(flags)(exportTo(sha256!, fileTarget(destination)))
      yield* printErr(`${destination}: ${done.size} bytes from ${done.store}, sha256 verified`)
    })
).pipe(Command.withDescription("write a stored artifact to a file, from a healthy copy, verified before it appears"))

/** Writes to stdout and waits until it took the bytes; a failed write ends the command (see stdoutFailed). */
const writeStdout = (chunk: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    process.stdout.write(chunk, (error) => (error ? stdoutFailed(error) : resume(Effect.void)))
  })

export const catCommand = Command.make("cat", { sha256: Args.text({ name: "SHA256" }).pipe(Args.withDescription("the artifact to write to stdout")), ...location }, (flags) =>
  Effect.gen(function* () {
    const [sha256] = yield* sha256List([flags.sha256])
    yield* withServices(flags)(Stream.runForEach(readArtifact(sha256!), writeStdout))
  })
).pipe(Command.withDescription("write a stored artifact to stdout (its sha256 is checked as it streams)"))
