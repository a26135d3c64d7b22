/**
 * The network flags of `fetch` and `remote add` (issue 3), turned into the fields of a `Remote`.
 * Passwords and tokens come only from environment variables (`--*-env VAR`) or files, never from argv.
 */
import { type Command, Options } from "@effect/cli"
import { describeParseError, Remote } from "@cargohold/core"
import { Effect, Option, ParseResult, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { UsageError } from "../errors.js"

const file = (name: string, description: string) =>
  Options.file(name, { exists: "yes" }).pipe(Options.withPseudoName("FILE"), Options.withDescription(description), Options.optional)
const text = (name: string, value: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(value), Options.withDescription(description), Options.optional)
const seconds = (name: string, description: string) =>
  Options.float(name).pipe(Options.withPseudoName("S"), Options.withDescription(description), Options.optional)

export const networkOptions = {
  caCert: file("ca-cert", "PEM file of an extra trusted CA (in addition to the system store)"),
  clientCert: file("client-cert", "PEM client certificate for mutual TLS"),
  clientKey: file("client-key", "PEM private key of --client-cert"),
  insecure: Options.boolean("insecure").pipe(Options.withDescription("do not verify the server's certificate")),
  proxy: text("proxy", "URL", "proxy URL (http:// or https://); default HTTPS_PROXY / HTTP_PROXY / NO_PROXY"),
  proxyUser: text("proxy-user", "USER", "proxy user name"),
  proxyPasswordEnv: text("proxy-password-env", "VAR", "environment variable holding the proxy password"),
  user: text("user", "USER", "user name for HTTP basic auth"),
  passwordEnv: text("password-env", "VAR", "environment variable holding the basic-auth password"),
  bearerEnv: text("bearer-env", "VAR", "environment variable holding a bearer token"),
  header: Options.text("header").pipe(
    Options.withPseudoName("'K: V'"),
    Options.withDescription("extra request header 'Name: value' (repeatable; values are never printed)"),
    Options.repeated
  ),
  headerEnv: Options.text("header-env").pipe(
    Options.withPseudoName("'K: VAR'"),
    Options.withDescription("extra request header whose value is read from an environment variable (repeatable)"),
    Options.repeated
  ),
  rate: Options.float("rate").pipe(Options.withPseudoName("N"), Options.withDescription("requests per second to this source"), Options.optional),
  limitRate: text("limit-rate", "BYTES", "at most this many bytes per second (suffixes k, M, G)"),
  connectTimeout: seconds("connect-timeout", "connect timeout in seconds"),
  idleTimeout: seconds("idle-timeout", "idle-read timeout in seconds (no bytes for this long fails the attempt)")
}

export type NetworkFlags = Command.Command.ParseConfig<typeof networkOptions>

/** The parts of a `Remote` that network flags can set. */
export type NetworkFields = Pick<
  Remote,
  "headers" | "tls" | "proxy" | "auth" | "timeouts" | "limits"
>

const usage = (message: string) => new UsageError({ message })

const secretFromEnv = (flag: string, variable: string): Effect.Effect<Redacted.Redacted<string>, UsageError> =>
  Effect.suspend(() => {
    const value = process.env[variable]
    return value === undefined || value === ""
      ? Effect.fail(usage(`${flag}: environment variable ${variable} is not set`))
      : Effect.succeed(Redacted.make(value))
  })

const optionalSecret = (flag: string, variable: Option.Option<string>) =>
  Option.isSome(variable) ? Effect.map(secretFromEnv(flag, variable.value), Option.some) : Effect.succeedNone

/** `10k`, `2M`, `1.5G`, `4096` → bytes. */
export const parseByteRate = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?B)?$/.exec(text.trim())
  if (match === null) return undefined
  const factor = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g"]
  const bytes = Math.floor(Number(match[1]) * factor)
  return bytes > 0 ? bytes : undefined
}

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** `--header 'Name: value'` and `--header-env 'Name: VAR'` (the value read from the environment, never printed). */
const parseHeaders = (
  lines: ReadonlyArray<string>,
  fromEnv: ReadonlyArray<string>
): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.suspend(() => {
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(":")
      const name = colon > 0 ? line.slice(0, colon).trim() : ""
      // the value is not repeated: it may be a token
      if (!headerName.test(name)) return Effect.fail(usage("--header must be 'Name: value' (a header name, a colon, the value)"))
      headers[name] = line.slice(colon + 1).trim()
    }
    for (const line of fromEnv) {
      const match = /^\s*([^:\s]+)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(line)
      if (match === null || !headerName.test(match[1]!)) {
        return Effect.fail(usage(`--header-env must be 'Name: VARIABLE', got '${line}'`))
      }
      const value = process.env[match[2]!]
      if (value === undefined || value === "") {
        return Effect.fail(usage(`--header-env ${match[1]}: environment variable ${match[2]} is not set`))
      }
      headers[match[1]!] = value.trim()
    }
    return Effect.succeed(headers)
  })

const readPem = (flag: string, path: string): Effect.Effect<string, UsageError> =>
  Effect.try({ try: () => readFileSync(path, "utf8"), catch: () => usage(`${flag}: cannot read ${path}`) })

const positive = (flag: string, value: Option.Option<number>): Effect.Effect<number | undefined, UsageError> =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) => (n > 0 && Number.isFinite(n) ? Effect.succeed(n) : Effect.fail(usage(`${flag} must be a positive number`)))
  })

/** True when any network flag was given (other keys of `flags` are ignored). */
export const anyNetworkFlag = (flags: NetworkFlags): boolean =>
  (Object.keys(networkOptions) as Array<keyof NetworkFlags>).some((key) => {
    const value: unknown = flags[key]
    if (Array.isArray(value)) return value.length > 0
    if (typeof value === "boolean") return value
    return Option.isOption(value) && Option.isSome(value)
  })

/** Validates the flags and builds the remote fields they describe. Secrets are read here and stay `Redacted`. */
export const networkFields = (flags: NetworkFlags): Effect.Effect<Partial<NetworkFields>, UsageError> =>
  Effect.gen(function* () {
    const fields: { -readonly [K in keyof NetworkFields]?: NetworkFields[K] } = {}
    if (flags.header.length > 0 || flags.headerEnv.length > 0) fields.headers = yield* parseHeaders(flags.header, flags.headerEnv)

    if (Option.isSome(flags.clientCert) !== Option.isSome(flags.clientKey)) {
      return yield* Effect.fail(usage("--client-cert and --client-key go together"))
    }
    if (Option.isSome(flags.caCert) || Option.isSome(flags.clientCert) || flags.insecure) {
      fields.tls = {
        caCert: Option.getOrUndefined(flags.caCert),
        clientCert: Option.getOrUndefined(flags.clientCert),
        clientKey: Option.isSome(flags.clientKey)
          ? Redacted.make(yield* readPem("--client-key", flags.clientKey.value))
          : undefined,
        verify: flags.insecure ? false : undefined
      }
    }

    const proxyPassword = yield* optionalSecret("--proxy-password-env", flags.proxyPasswordEnv)
    if (Option.isSome(flags.proxy)) {
      if (!/^https?:\/\/[^/]/.test(flags.proxy.value)) return yield* Effect.fail(usage("--proxy must be an http:// or https:// URL"))
      fields.proxy = {
        url: flags.proxy.value,
        username: Option.getOrUndefined(flags.proxyUser),
        password: Option.getOrUndefined(proxyPassword)
      }
    } else if (Option.isSome(flags.proxyUser) || Option.isSome(proxyPassword)) {
      return yield* Effect.fail(usage("--proxy-user and --proxy-password-env need --proxy"))
    }

    const password = yield* optionalSecret("--password-env", flags.passwordEnv)
    const bearer = yield* optionalSecret("--bearer-env", flags.bearerEnv)
    if (Option.isSome(bearer) && (Option.isSome(flags.user) || Option.isSome(password))) {
      return yield* Effect.fail(usage("--bearer-env cannot be combined with --user / --password-env"))
    }
    if (Option.isSome(bearer)) fields.auth = { _tag: "Bearer", token: bearer.value }
    else if (Option.isSome(flags.user)) {
      if (Option.isNone(password)) return yield* Effect.fail(usage("--user needs --password-env VAR (passwords never go on the command line)"))
      fields.auth = { _tag: "Basic", username: flags.user.value, password: password.value }
    } else if (Option.isSome(password)) return yield* Effect.fail(usage("--password-env needs --user"))

    const connect = yield* positive("--connect-timeout", flags.connectTimeout)
    const idle = yield* positive("--idle-timeout", flags.idleTimeout)
    if (connect !== undefined || idle !== undefined) {
      fields.timeouts = {
        connectMs: connect === undefined ? undefined : Math.round(connect * 1000),
        idleMs: idle === undefined ? undefined : Math.round(idle * 1000)
      }
    }

    const rate = yield* positive("--rate", flags.rate)
    let bytesPerSecond: number | undefined
    if (Option.isSome(flags.limitRate)) {
      bytesPerSecond = parseByteRate(flags.limitRate.value)
      if (bytesPerSecond === undefined) return yield* Effect.fail(usage(`--limit-rate: not a byte rate: '${flags.limitRate.value}'`))
    }
    if (rate !== undefined || bytesPerSecond !== undefined) fields.limits = { requestsPerSecond: rate, bytesPerSecond }
    return fields
  })

/** A `Remote` from a name, a base URL and network fields, validated by its Schema. */
export const makeRemote = (
  input: { readonly name: string; readonly url: string; readonly priority?: number | undefined } & Partial<NetworkFields>
): Effect.Effect<Remote, UsageError> =>
  Effect.try({
    try: () => new Remote({ ...input, headers: input.headers ?? {} }),
    catch: (error) =>
      usage(
        `invalid remote '${input.name}': ${ParseResult.isParseError(error) ? describeParseError(error) : error instanceof Error ? error.message : String(error)}`
      )
  })
