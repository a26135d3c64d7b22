/**
 * `lookup` in one statement: the artifact row, with its locations and its ranked sources aggregated into JSON arrays
 * of tuples by correlated subqueries (`json_group_array` on SQLite, `json_agg` on PostgreSQL). One round trip and
 * one prepared statement instead of three.
 */
import { defaultPriority } from "@cargohold/core"

/** A source's priority: its own, else its remote's, else the default. Needs `sources s LEFT JOIN remotes r`. */
export const effectivePriority = `COALESCE(s.priority, r.priority, ${Number(defaultPriority)})`

/** How sources are ranked (core's sourceOrder): priority, then fewest failures, then latest success, then URL. */
export const sourceOrderSql = `${effectivePriority} DESC, s.consecutive_failures ASC, COALESCE(s.last_success, 0) DESC, s.url ASC`

const locationCells = `l.store, l."key", l.stored_at, l.verified_at, l.state`
const sourceCells = `s.url, s.remote, ${effectivePriority}, s.last_success, s.last_failure, s.consecutive_failures,
  s.last_error_tag, s.etag, s.last_modified, s.served_sha256`

const lookupQuery = (dialect: "sqlite" | "pg", digest: string) => {
  const agg = (cells: string, order: string) =>
    dialect === "pg" ? `json_agg(json_build_array(${cells})${order})` : `json_group_array(json_array(${cells})${order})`
  return `SELECT a.sha256, a.size, a.sha384, a.sha512, a.sha1, a.md5, a.first_seen,
    (SELECT ${agg(locationCells, "")} FROM locations l WHERE l.artifact = a.id) AS locations,
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
    RETURN QUERY ${lookupQuery("pg", "digest")};
  END
  $fn$`

/** The lookup statement around its one parameter, the sha256: the text before it and the text after it. */
export const lookupSql = (dialect: "sqlite" | "pg"): readonly [string, string] =>
  dialect === "pg" ? ["SELECT * FROM cargohold_lookup(", ")"] : [lookupQuery("sqlite", ""), ""]

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

/** A location tuple (in `locationCells` order) as a row of the locations table. */
export const locationFromTuple = (sha256: string, t: ReadonlyArray<Cell>) => ({
  sha256,
  store: t[0],
  key: t[1],
  stored_at: t[2],
  verified_at: t[3],
  state: t[4]
})

/** A source tuple (in `sourceCells` order) as a row of `sourcesFor`. */
export const sourceFromTuple = (sha256: string, t: ReadonlyArray<Cell>) => ({
  sha256,
  url: t[0],
  remote: t[1],
  effective_priority: t[2],
  last_success: t[3],
  last_failure: t[4],
  consecutive_failures: t[5],
  last_error_tag: t[6],
  etag: t[7],
  last_modified: t[8],
  served_sha256: t[9]
})
