/**
 * The secret box: seals remote secrets with AES-256-GCM before they reach the database.
 * Key from `CARGOHOLD_SECRET_KEY` (32 bytes, base64 or hex) or `$CARGOHOLD_HOME/secret.key` (created 0600).
 */
import { CatalogError, homeSegments } from "@cargohold/core"
import { Context, Effect, Layer, Redacted } from "effect"
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeDirectoriesSync } from "./folders.js"

export interface SecretBoxService {
  /** Encrypts `plaintext`, bound to `context` (e.g. the remote's name): `v1.<base64 iv|tag|ciphertext>`. */
  readonly seal: (plaintext: string, context: string) => Effect.Effect<string, CatalogError>
  /** Decrypts what `seal` produced with the same context; fails on a wrong key or tampering. */
  readonly open: (sealed: string, context: string) => Effect.Effect<string, CatalogError>
}

export class SecretBox extends Context.Tag("@cargohold/catalog-sql/SecretBox")<SecretBox, SecretBoxService>() {}

const keyError = (detail: string) => new CatalogError({ operation: "secret key", reason: "SecretKey", detail })

/** Reads a 32-byte key written as hex (64 characters) or base64. The text itself never appears in an error. */
export const parseSecretKey = (text: string, origin: string): Effect.Effect<Redacted.Redacted<Uint8Array>, CatalogError> =>
  Effect.suspend(() => {
    const trimmed = text.trim()
    const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed)
      ? Buffer.from(trimmed, "hex")
      : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
        ? Buffer.from(trimmed, "base64")
        : undefined
    return bytes !== undefined && bytes.length === 32
      ? Effect.succeed(Redacted.make(new Uint8Array(bytes)))
      : Effect.fail(keyError(`${origin} must hold 32 bytes written as base64 or 64 hex characters`))
  })

/** The home folder by cargohold's one rule (`homeSegments` of the core: empty values count as unset). */
export const resolveHome = (home?: string): string => path.resolve(...homeSegments(home, process.env, os.homedir()))

/** Reads `file`, creating it with a fresh random key (mode 0600) when missing; safe against concurrent creators. */
const readOrCreateKeyFile = (file: string): Effect.Effect<string, CatalogError> =>
  Effect.try({
    try: () => {
      if (!fs.existsSync(file)) {
        makeDirectoriesSync(path.dirname(file), 0o700)
        const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}`
        fs.writeFileSync(temp, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" })
        try {
          fs.linkSync(temp, file)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
        } finally {
          fs.rmSync(temp, { force: true })
        }
      }
      const mode = fs.statSync(file).mode & 0o777
      if ((mode & 0o077) !== 0) {
        throw new Error(`${file} is readable by other users (mode ${mode.toString(8)}); make it 0600`)
      }
      return fs.readFileSync(file, "utf8")
    },
    catch: (error) =>
      keyError(error instanceof Error ? error.message.replace(/^.*?: /, `${file}: `) : `cannot read ${file}`)
  })

const seal = (key: Uint8Array, plaintext: string, context: string): string => {
  const iv = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", key, iv)
  cipher.setAAD(Buffer.from(context, "utf8"))
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`
}

const open = (key: Uint8Array, sealed: string, context: string): string => {
  if (!sealed.startsWith("v1.")) throw new Error("unknown sealed format")
  const bytes = Buffer.from(sealed.slice(3), "base64")
  const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12))
  decipher.setAAD(Buffer.from(context, "utf8"))
  decipher.setAuthTag(bytes.subarray(12, 28))
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8")
}

/** A secret box over a key obtained (once, on first use) from `key`. */
export const makeSecretBox = (
  key: Effect.Effect<Redacted.Redacted<Uint8Array>, CatalogError>
): Effect.Effect<SecretBoxService> =>
  Effect.map(Effect.cached(key), (cachedKey) => ({
    seal: (plaintext, context) =>
      Effect.flatMap(cachedKey, (k) =>
        Effect.try({
          try: () => seal(Redacted.value(k), plaintext, context),
          catch: () => keyError("encryption failed")
        })
      ),
    open: (sealed, context) =>
      Effect.flatMap(cachedKey, (k) =>
        Effect.try({
          try: () => open(Redacted.value(k), sealed, context),
          catch: () =>
            new CatalogError({
              operation: "decrypt secrets",
              reason: "SecretKey",
              detail: `secrets of ${context} cannot be decrypted: wrong key (CARGOHOLD_SECRET_KEY / secret.key) or altered data`
            })
        })
      )
  }))

/** A secret box with a given key (tests, embedding programs): 32 raw bytes, or their base64 / hex text. */
export const layerSecretBoxKey = (key: Uint8Array | string | Redacted.Redacted<string>): Layer.Layer<SecretBox> =>
  Layer.effect(
    SecretBox,
    makeSecretBox(
      key instanceof Uint8Array
        ? key.length === 32
          ? Effect.succeed(Redacted.make(key))
          : Effect.fail(keyError("the secret key must be 32 bytes"))
        : parseSecretKey(typeof key === "string" ? key : Redacted.value(key), "the secret key")
    )
  )

/**
 * The default secret box: `CARGOHOLD_SECRET_KEY` if set, else `<home>/secret.key`, created 0600 on first use.
 * Nothing is read or created until a secret is sealed or opened.
 */
export const layerSecretBoxDefault = (options?: { readonly home?: string }): Layer.Layer<SecretBox> =>
  Layer.effect(
    SecretBox,
    makeSecretBox(
      Effect.suspend(() => {
        const fromEnv = process.env.CARGOHOLD_SECRET_KEY
        if (fromEnv !== undefined && fromEnv.length > 0) return parseSecretKey(fromEnv, "CARGOHOLD_SECRET_KEY")
        const file = path.join(resolveHome(options?.home), "secret.key")
        return Effect.flatMap(readOrCreateKeyFile(file), (text) => parseSecretKey(text, file))
      })
    )
  )
