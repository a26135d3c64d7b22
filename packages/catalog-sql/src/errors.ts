/**
 * SQL failures as CatalogError, with any credential scrubbed from the text.
 */
import { CatalogError } from "@cargohold/core"
import { Effect } from "effect"

/** Replaces the password of every `scheme://user:password@host` in a text. */
export const redactUrls = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/gi, "$1:<redacted>@")

/** Removes every known secret (and any URL password) from a text. */
export const scrub = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let out = redactUrls(text)
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("<redacted>")
  }
  return out
}

const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    const inner = cause instanceof Error ? cause.message : cause === undefined ? "" : String(cause)
    return inner.length > 0 && !error.message.includes(inner) ? `${error.message}: ${inner}` : error.message
  }
  return String(error)
}

/** Turns any failure into a CatalogError for `operation`, scrubbing secrets from its reason. */
export const catalogError = (operation: string, error: unknown, secrets: ReadonlyArray<string> = []): CatalogError =>
  error instanceof CatalogError ? error : new CatalogError({ operation, reason: scrub(describe(error), secrets) })

/** Maps the error channel of an effect to CatalogError for `operation`. */
export const asCatalogError =
  (operation: string, secrets: ReadonlyArray<string> = []) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, CatalogError, R> =>
    Effect.mapError(effect, (error) => catalogError(operation, error, secrets))
