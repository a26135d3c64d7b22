/**
 * `remote add|list|show|remove` and `sources add`: remotes (with their network policy) and declared sources,
 * kept in the catalog's database (the Remotes and Catalog services). Secrets print as `<redacted>`, always.
 */
import { Args, Command, Options } from "@effect/cli"
import { Catalog, type Remote, Remotes, redactUrl, Sha256 } from "@cargohold/core"
import { Effect, Option, Redacted } from "effect"
import { withServices } from "../env.js"
import { Finished, rejectFlagLikeArgs, UsageError } from "../errors.js"
import { json, location } from "../options/common.js"
import { makeRemote, networkFields, networkOptions } from "../options/network.js"
import { printErr, printJson, printOut, table } from "../output.js"

const redacted = "<redacted>"

/** A remote as plain data, every secret replaced by `<redacted>`. */
export const remoteView = (remote: Remote): Record<string, unknown> => {
  const hide = (value: unknown): unknown => {
    if (Redacted.isRedacted(value)) return redacted
    if (Array.isArray(value)) return value.map(hide)
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, hide(v)]))
    }
    return value
  }
  const view = hide({ ...remote }) as Record<string, unknown>
  // header values may carry tokens too (Authorization, X-Api-Key…): only their names are shown
  const headers = remote.headers ?? {}
  view.headers = Object.fromEntries(Object.keys(headers).map((name) => [name, redacted]))
  return view
}

const flatten = (value: unknown, prefix = ""): Array<[string, string]> => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix === "" ? k : `${prefix}.${k}`))
  }
  return [[prefix, Array.isArray(value) ? value.join(", ") : String(value)]]
}

const name = Args.text({ name: "NAME" }).pipe(Args.withDescription("the remote's name"))
const priority = Options.integer("priority").pipe(Options.withPseudoName("N"), Options.withDescription("priority of its sources (higher is preferred; default 100)"), Options.optional)

const getRemote = (remoteName: string) =>
  Effect.flatMap(Remotes, (remotes) => remotes.get(remoteName)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(new UsageError({ message: `no remote named '${remoteName}'` })),
      onSome: Effect.succeed
    }))
  )

export const remoteAdd = Command.make(
  "add",
  {
    name,
    url: Args.text({ name: "URL" }).pipe(Args.withDescription("its base URL (http://, https:// or file://); relative URLs resolve against it")),
    priority,
    ...networkOptions,
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const flagLike = rejectFlagLikeArgs([flags.name, flags.url])
      if (flagLike !== undefined) return yield* Effect.fail(flagLike)
      if (!/^(https?|file):\/\//.test(flags.url)) {
        return yield* Effect.fail(new UsageError({ message: `remote URL must be http://, https:// or file://, got '${flags.url}'` }))
      }
      const fields = yield* networkFields(flags)
      const remote = yield* makeRemote({ name: flags.name, url: flags.url, priority: Option.getOrUndefined(flags.priority), ...fields })
      yield* withServices(flags)(
        Effect.gen(function* () {
          const remotes = yield* Remotes
          if (Option.isSome(yield* remotes.get(remote.name))) {
            return yield* Effect.fail(new UsageError({ message: `remote '${remote.name}' exists; remove it first` }))
          }
          yield* remotes.put(remote)
        })
      )
      yield* printErr(`remote '${remote.name}' added`)
    })
).pipe(Command.withDescription("define a remote: base URL and network policy (TLS, proxy, auth, limits)"))

export const remoteList = Command.make("list", { json, ...location }, (flags) =>
  withServices(flags)(
    Effect.gen(function* () {
      const remotes = yield* (yield* Remotes).list()
      if (flags.json) {
        for (const remote of remotes) yield* printJson(remoteView(remote))
      } else if (remotes.length > 0) {
        yield* printOut(table(remotes.map((r) => [r.name, r.url, `priority ${r.priority ?? 100}`])))
      }
    })
  )
).pipe(Command.withDescription("list remotes"))

export const remoteShow = Command.make("show", { name, json, ...location }, (flags) =>
  withServices(flags)(
    Effect.gen(function* () {
      const view = remoteView(yield* getRemote(flags.name))
      yield* flags.json ? printJson(view) : printOut(table(flatten(view).filter(([, v]) => v !== "")))
    })
  )
).pipe(Command.withDescription("show one remote (secrets as <redacted>)"))

export const remoteRemove = Command.make("remove", { name, ...location }, (flags) =>
  withServices(flags)(
    Effect.gen(function* () {
      const existed = yield* (yield* Remotes).remove(flags.name)
      if (!existed) {
        yield* printErr(`cargohold: no remote named '${flags.name}'`)
        return yield* Effect.fail(new Finished({ code: 1 }))
      }
      yield* printErr(`remote '${flags.name}' removed`)
    })
  )
).pipe(Command.withDescription("forget a remote"))

export const remoteCommand = Command.make("remote").pipe(
  Command.withDescription("manage remotes"),
  Command.withSubcommands([remoteAdd, remoteList, remoteShow, remoteRemove])
)

export const sourcesAdd = Command.make(
  "add",
  {
    sha256: Args.text({ name: "SHA256" }).pipe(Args.withDescription("the artifact's sha256 (64 hex digits)")),
    url: Args.text({ name: "URL" }).pipe(Args.withDescription("where it can be downloaded (relative to --remote's URL, if given)")),
    priority,
    remote: Options.text("remote").pipe(Options.withPseudoName("NAME"), Options.withDescription("the remote the URL belongs to (relative URLs resolve against it)"), Options.optional),
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const flagLike = rejectFlagLikeArgs([flags.sha256, flags.url])
      if (flagLike !== undefined) return yield* Effect.fail(flagLike)
      const sha256 = flags.sha256.trim().toLowerCase()
      if (!/^[0-9a-f]{64}$/.test(sha256)) return yield* Effect.fail(new UsageError({ message: `not a sha256: '${flags.sha256}'` }))
      yield* withServices(flags)(
        Effect.gen(function* () {
          const remote = Option.isSome(flags.remote) ? yield* getRemote(flags.remote.value) : undefined
          let parsed: URL
          try {
            parsed = new URL(flags.url, remote?.url)
          } catch {
            return yield* Effect.fail(new UsageError({ message: `not a URL: '${redactUrl(flags.url)}'` }))
          }
          if (parsed.username !== "" || parsed.password !== "") {
            // the message must not repeat the URL: it holds the credentials
            return yield* Effect.fail(
              new UsageError({
                message: "a source URL must not contain credentials (the catalog would keep them); give them to a remote (--user / --password-env) and add the source with --remote"
              })
            )
          }
          const url = parsed.href
          yield* (yield* Catalog).addSources(Sha256.make(sha256), [
            { url, priority: Option.getOrUndefined(flags.priority), remote: remote?.name }
          ])
          yield* printErr(`source added: ${sha256} ← ${url}`)
        })
      )
    })
).pipe(Command.withDescription("declare where an artifact can be had, without downloading it"))

export const sourcesCommand = Command.make("sources").pipe(
  Command.withDescription("declared sources of artifacts"),
  Command.withSubcommands([sourcesAdd])
)
