/**
 * SQL failures as CatalogError, with any credential scrubbed from the text.
 */
import { CatalogError, type CatalogFailure, redactUrlsInText } from "@cargohold/core"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Option } from "effect"

/** Removes every known secret (and any URL password) from a text. */
export const scrub = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let out = redactUrlsInText(text)
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("<redacted>")
  }
  return out
}

/** The driver's error code of a failure or of its cause: `SQLITE_FULL`, PostgreSQL's SQLSTATE `53100`… */
const codeOf = (error: unknown): string | undefined => {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === "string" && code.length > 0) return code
  }
  return undefined
}

/**
 * The reason of the failures a user can meet and act on (the disk under the catalog full, a read-only or failing
 * disk, a damaged file), by the driver's code; undefined for others.
 */
const diskReason = (code: string): CatalogFailure | undefined => {
  if (code === "SQLITE_FULL" || code === "53100") return "DiskFull"
  if (code.startsWith("SQLITE_IOERR") || code === "58030") return "DiskIo"
  if (code.startsWith("SQLITE_READONLY")) return "ReadOnly"
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB") return "Damaged"
  return undefined
}

const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    const inner = cause instanceof Error ? cause.message : cause === undefined ? "" : String(cause)
    return inner.length > 0 && !error.message.includes(inner) ? `${error.message}: ${inner}` : error.message
  }
  return String(error)
}

/**
 * Turns any failure into a CatalogError for `operation`, scrubbing secrets from its detail: a disk failure by its
 * reason with the driver's code as detail, anything else a `Database` failure saying what the driver said.
 */
export const catalogError = (operation: string, error: unknown, secrets: ReadonlyArray<string> = []): CatalogError => {
  if (error instanceof CatalogError) return error
  const code = codeOf(error)
  const disk = code === undefined ? undefined : diskReason(code)
  return disk !== undefined && code !== undefined
    ? new CatalogError({ operation, reason: disk, detail: code })
    : new CatalogError({ operation, reason: "Database", detail: scrub(describe(error), secrets) })
}

/**
 * Maps the error channel of an effect to CatalogError for `operation`. A failed COMMIT or ROLLBACK is a defect in
 * @effect/sql's `withTransaction` (it dies with the SqlError); it is the same catalog failure to a caller (a disk
 * that filled at commit), so an SqlError defect becomes a CatalogError too. Other defects stay defects.
 */
export const asCatalogError =
  (operation: string, secrets: ReadonlyArray<string> = []) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, CatalogError, R> =>
    effect.pipe(
      Effect.mapError((error) => catalogError(operation, error, secrets)),
      Effect.catchSomeDefect((defect) =>
        defect instanceof SqlError ? Option.some(Effect.fail(catalogError(operation, defect, secrets))) : Option.none()
      )
    )
