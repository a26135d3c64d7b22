/**
 * `lookup` in one statement: the artifact row, with its locations and its ranked sources aggregated into JSON arrays
 * of tuples by correlated subqueries (`json_group_array` on SQLite, `json_agg` on PostgreSQL). One round trip and
 * one prepared statement instead of three.
 */
import { defaultPriority } from "@cargohold/core"
import { type Dialect, pg } from "./dialect.js"
import type { ArtifactSql, LocationSql, SourceSql } from "./rows.js"

/** A source's priority: its own, else its remote's, else the default. Needs `sources s LEFT JOIN remotes r`. */
export const effectivePriority = `COALESCE(s.priority, r.priority, ${Number(defaultPriority)})`

/** How sources are ranked (core's sourceOrder): priority, then fewest failures, then latest success, then URL. */
export const sourceOrderSql = `${effectivePriority} DESC, s.consecutive_failures ASC, COALESCE(s.last_success, 0) DESC, s.url ASC`

const locationCells = `st.store, l."key", l.stored_at, l.verified_at, l.state`
const sourceCells = `s.url, s.remote, ${effectivePriority}, s.last_success, s.last_failure, s.consecutive_failures,
  s.last_error_tag, s.etag, s.last_modified, s.served_sha256`

/**
 * Digests are stored as bytes; the lookup takes and returns them in lowercase hex, converted in SQL, so its callers
 * deal in text only.
 */
const lookupQuery = (dialect: Dialect, digest: string) => {
  const agg = dialect.jsonArrays
  const hex = (digest: string) => `${dialect.hexOf(`a.${digest}`)} AS ${digest}`
  return `SELECT ${hex("sha256")}, a.size, ${hex("sha384")}, ${hex("sha512")}, ${hex("sha1")}, ${hex("md5")}, a.first_seen,
    (SELECT ${agg(locationCells, "")} FROM locations l JOIN stores st ON st.id = l.store WHERE l.artifact = a.id)
      AS locations,
    (SELECT ${agg(sourceCells, ` ORDER BY ${sourceOrderSql}`)}
      FROM sources s LEFT JOIN remotes r ON r.name = s.remote WHERE s.artifact = a.id) AS sources
    FROM artifacts a WHERE a.sha256 = ${digest}`
}

/**
 * PostgreSQL: the lookup query inside a PL/pgSQL function. @effect/sql-pg sends every statement unnamed, so the
 * server parses and plans it on each call, and planning this query costs several times executing it; a PL/pgSQL
 * function keeps its plan for the session. Created by the migrations: a change to the lookup query needs a new
 * migration that replaces the function.
 */
export const createLookupFunction = `CREATE FUNCTION cargohold_lookup(digest TEXT) RETURNS TABLE (
    sha256 TEXT, size BIGINT, sha384 TEXT, sha512 TEXT, sha1 TEXT, md5 TEXT, first_seen BIGINT,
    locations JSON, sources JSON
  ) LANGUAGE plpgsql STABLE AS $fn$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY ${lookupQuery(pg, "decode(digest, 'hex')")};
  END
  $fn$`

/** The lookup statement around its one parameter, the sha256 in hex: the text before it and the text after it. */
export const lookupSql = (dialect: Dialect): readonly [string, string] =>
  dialect.name === "pg" ? ["SELECT * FROM cargohold_lookup(", ")"] : [lookupQuery(dialect, "unhex("), ")"]

type Cell = string | number | null

export interface LookupRow {
  readonly sha256: string
  readonly size: number | string | null
  readonly sha384: string | null
  readonly sha512: string | null
  readonly sha1: string | null
  readonly md5: string | null
  readonly first_seen: number | string | null
  /** JSON text (SQLite), parsed JSON (PostgreSQL), or NULL (PostgreSQL, no rows). */
  readonly locations: string | ReadonlyArray<ReadonlyArray<Cell>> | null
  readonly sources: string | ReadonlyArray<ReadonlyArray<Cell>> | null
}

/** The aggregated tuples of a lookup row's column. */
export const tuples = (value: LookupRow["locations"]): ReadonlyArray<ReadonlyArray<Cell>> =>
  value === null ? [] : typeof value === "string" ? (JSON.parse(value) as ReadonlyArray<ReadonlyArray<Cell>>) : value

const num = (cell: Cell | undefined): number => Number(cell)
const opt = <A>(cell: Cell | undefined, f: (cell: Cell) => A): A | undefined =>
  cell === null || cell === undefined ? undefined : f(cell)
const text = (cell: Cell | undefined): string => String(cell)
const millis = (cell: Cell): Date => new Date(Number(cell))

/*
 * The lookup row is turned into the SQL row shapes directly (numbers and dates from the cells), then checked once by
 * the core row Schemas in toArtifact / toLocation / toSource: decoding through the SQL row Schemas first, as the
 * other queries do, doubled the cost of a lookup.
 */

/** The artifact columns of a lookup row, in the SQL row shape. */
export const artifactOfLookup = (row: LookupRow): typeof ArtifactSql.Type => ({
  sha256: row.sha256,
  size: num(row.size),
  sha384: opt(row.sha384, text),
  sha512: opt(row.sha512, text),
  sha1: opt(row.sha1, text),
  md5: opt(row.md5, text),
  first_seen: millis(row.first_seen)
})

/** A location tuple (in `locationCells` order) as a row of the locations table. */
export const locationFromTuple = (sha256: string, t: ReadonlyArray<Cell>): typeof LocationSql.Type => ({
  sha256,
  store: text(t[0]),
  key: text(t[1]),
  stored_at: millis(t[2]!),
  verified_at: opt(t[3], millis),
  state: text(t[4])
})

/** A source tuple (in `sourceCells` order) as a row of `sourcesFor`. */
export const sourceFromTuple = (sha256: string, t: ReadonlyArray<Cell>): typeof SourceSql.Type => ({
  sha256,
  url: text(t[0]),
  remote: opt(t[1], text),
  effective_priority: num(t[2]),
  last_success: opt(t[3], millis),
  last_failure: opt(t[4], millis),
  consecutive_failures: num(t[5]),
  last_error_tag: opt(t[6], text),
  etag: opt(t[7], text),
  last_modified: opt(t[8], text),
  served_sha256: opt(t[9], text)
})
