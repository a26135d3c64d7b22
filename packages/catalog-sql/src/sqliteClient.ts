/**
 * The SqlClient on a SQLite file: reads on this thread's own connection, every write in the writer thread.
 *
 * - A statement outside a transaction is prepared here; when SQLite says it only reads (`Statement.readonly`), it
 *   runs here, as a WAL reader that never waits for the writer; otherwise it goes to the writer thread.
 * - A transaction runs entirely in the writer thread, its reads included (they must see its own writes), holding
 *   the writer for its whole length; a write outside a transaction waits for the writer the same way, so it never
 *   lands inside someone else's transaction.
 * - This thread's connection never takes the write lock, so its synchronous calls never wait for one: a read sees
 *   the last committed state (a finished write has committed before its effect returns), and the event loop never
 *   waits for a commit's fsync.
 * Durability is the writer connection's: WAL, `synchronous = FULL`.
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import * as Client from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import Sqlite from "better-sqlite3"
import { Context, Effect, Scope } from "effect"
import type { CatalogError } from "@cargohold/core"
import { catalogError } from "./errors.js"
import { startSqliteWriter, type SqliteWriter } from "./sqliteWriter.js"
import type { WriterOp } from "./sqliteWriterThread.js"

/** Rows as this module hands them to @effect/sql (which types them loosely). */
type Rows = ReadonlyArray<object>

/** Prepared statements of this thread's connection kept by text (a text SQLite says writes is kept as `"write"`). */
const preparedCacheSize = 200

const failed = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

/** This thread's connection: reads run on it, writes are handed to `write`. */
const makeReaderConnection = (
  db: Sqlite.Database,
  write: (op: WriterOp, sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) => Effect.Effect<unknown, SqlError>
): Connection => {
  const prepared = new Map<string, Sqlite.Statement | "write">()
  const prepare = (sql: string): Sqlite.Statement | "write" => {
    const cached = prepared.get(sql)
    if (cached !== undefined) return cached
    const statement = db.prepare(sql)
    const entry = statement.readonly ? statement : "write"
    if (prepared.size >= preparedCacheSize) prepared.delete(prepared.keys().next().value!)
    prepared.set(sql, entry)
    return entry
  }
  const run = (op: WriterOp, sql: string, params: ReadonlyArray<unknown>): Effect.Effect<unknown, SqlError> =>
    Effect.withFiberRuntime((fiber) => {
      const safeIntegers = Context.get(fiber.currentContext, Client.SafeIntegers)
      let statement: Sqlite.Statement | "write"
      try {
        statement = op === "unprepared" ? db.prepare(sql) : prepare(sql)
      } catch (cause) {
        return Effect.fail(new SqlError({ cause, message: "Failed to prepare statement " }))
      }
      if (statement === "write" || !statement.readonly) return write(op, sql, params, safeIntegers)
      try {
        statement.safeIntegers(safeIntegers)
        // a statement that reads nothing and writes nothing (a connection setting, say)
        if (!statement.reader) return Effect.succeed(op === "raw" ? statement.run(...params) : [])
        if (op !== "values") return Effect.succeed(statement.all(...params))
        statement.raw(true)
        try {
          return Effect.succeed(statement.all(...params))
        } finally {
          statement.raw(false)
        }
      } catch (cause) {
        return Effect.fail(failed(cause))
      }
    })
  return {
    execute: (sql, params, transformRows) =>
      Effect.map(run("rows", sql, params), (rows) => (transformRows ? transformRows(rows as Rows) : (rows as Rows))),
    executeRaw: (sql, params) => run("raw", sql, params),
    executeValues: (sql, params) => run("values", sql, params) as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError>,
    executeUnprepared: (sql, params, transformRows) =>
      Effect.map(run("unprepared", sql, params ?? []), (rows) =>
        transformRows ? transformRows(rows as Rows) : (rows as Rows)
      ),
    executeStream: () => Effect.dieMessage("executeStream not implemented") as never
  }
}

/** The writer thread as a Connection: what a transaction runs on. */
const makeWriterConnection = (writer: SqliteWriter): Connection => {
  const run = (op: WriterOp, sql: string, params: ReadonlyArray<unknown>) =>
    Effect.withFiberRuntime<unknown, SqlError>((fiber) =>
      writer.execute(op, sql, params, Context.get(fiber.currentContext, Client.SafeIntegers))
    )
  return {
    execute: (sql, params, transformRows) =>
      Effect.map(run("rows", sql, params), (rows) => (transformRows ? transformRows(rows as Rows) : (rows as Rows))),
    executeRaw: (sql, params) => run("raw", sql, params),
    executeValues: (sql, params) => run("values", sql, params) as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError>,
    executeUnprepared: (sql, params, transformRows) =>
      Effect.map(run("unprepared", sql, params ?? []), (rows) =>
        transformRows ? transformRows(rows as Rows) : (rows as Rows)
      ),
    executeStream: () => Effect.dieMessage("executeStream not implemented") as never
  }
}

/**
 * Opens `filename` with its writer thread first (which sets WAL mode, then `pragmas`), then this thread's reader
 * connection with the same `pragmas`; both close with the scope (the reader first, so the writer's close makes the
 * final checkpoint).
 */
export const makeSqliteFileClient = (
  filename: string,
  pragmas: ReadonlyArray<string>
): Effect.Effect<Client.SqlClient, CatalogError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function* () {
    const writer = yield* startSqliteWriter(filename, pragmas)
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const db = new Sqlite(filename)
          for (const pragma of pragmas) db.pragma(pragma)
          return db
        },
        catch: (error) => catalogError("open sqlite", error)
      }),
      (db) => Effect.sync(() => db.close())
    )
    /** Held by a transaction for its whole length, and by a write outside one for its statement. */
    const writing = yield* Effect.makeSemaphore(1)
    const writerConnection = makeWriterConnection(writer)
    const write = (op: WriterOp, sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) =>
      writing.withPermits(1)(writer.execute(op, sql, params, safeIntegers))
    const reader = makeReaderConnection(db, write)
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(
          restore(writing.take(1)),
          Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, writing.release(1)))
        ),
        writerConnection
      )
    )
    return yield* Client.make({
      acquirer: Effect.succeed(reader),
      transactionAcquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    })
  })
