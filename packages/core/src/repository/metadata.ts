/**
 * Typed unit metadata: the caller describes its metadata with its own Schema (whose encoded side is JSON); units
 * carry the encoded form, and reading it back decodes (and checks) it.
 */
import { Effect, Option, type ParseResult, Schema } from "effect"
import { describeParseError } from "../domain/schemaIssues.js"
import { InvalidUnit } from "./errors.js"
import type { ContentUnit, JsonValue, UnitInput } from "./schema.js"

export interface UnitMetadataCodec<A> {
  /** A unit input carrying `metadata` encoded by the schema. */
  readonly unit: (input: Omit<UnitInput, "metadata">, metadata: A) => Effect.Effect<UnitInput, InvalidUnit>
  /** A unit's metadata decoded by the schema (none when the unit has none). */
  readonly read: (unit: ContentUnit) => Effect.Effect<Option.Option<A>, InvalidUnit>
}

const problem = (path: string, error: ParseResult.ParseError) =>
  new InvalidUnit({ path, reason: `metadata: ${describeParseError(error)}` })

/** Metadata described by `schema`, e.g. `unitMetadata(Schema.Struct({ arch: Schema.String }))`. */
export const unitMetadata = <A, I extends JsonValue>(schema: Schema.Schema<A, I>): UnitMetadataCodec<A> => {
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  return {
    unit: (input, metadata) =>
      encode(metadata).pipe(
        Effect.map((encoded): UnitInput => ({ ...input, metadata: encoded })),
        Effect.mapError((error) => problem(input.path, error))
      ),
    read: (unit) =>
      unit.metadata === undefined
        ? Effect.succeed(Option.none())
        : decode(unit.metadata).pipe(Effect.map(Option.some), Effect.mapError((error) => problem(unit.path, error)))
  }
}
