/**
 * What runs inside the SQLite writer thread (see sqliteWriter.ts): one better-sqlite3 connection that executes the
 * statements it is sent, in the order they arrive, and answers each with its rows or its error.
 *
 * The thread starts from source text (`writerThreadSource`), not from a file: a bundler that inlines this package
 * (the CLI's esbuild bundle, a user's) has no second file to find at run time. So `writerThread` must not close
 * over anything: everything it needs comes through its two parameters and `workerData`.
 */
import type * as WorkerThreads from "node:worker_threads"

/** How a statement's result is wanted (the four ways @effect/sql's Connection executes one). */
export type WriterOp = "rows" | "raw" | "values" | "unprepared"

export interface WriterRequest {
  readonly id: number
  readonly op: WriterOp
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  readonly safeIntegers: boolean
}

/** The thread's answer to a request (id > 0), or to its start (id 0). */
export type WriterReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code: string | undefined }

export interface WriterData {
  /** Absolute path of better-sqlite3's entry point (resolved by the opening thread). */
  readonly driver: string
  readonly filename: string
  /** Connection settings (`PRAGMA` bodies), applied after WAL mode. */
  readonly pragmas: ReadonlyArray<string>
}

/** Closes the connection; the thread then ends. */
export const closeRequest = { id: 0, op: "close" } as const

interface Statement {
  readonly reader: boolean
  safeIntegers(on: boolean): Statement
  raw(on: boolean): Statement
  all(...params: ReadonlyArray<unknown>): unknown
  run(...params: ReadonlyArray<unknown>): unknown
}
interface Database {
  readonly inTransaction: boolean
  prepare(sql: string): Statement
  pragma(text: string): unknown
  close(): void
}

/** The thread's body. Self-contained on purpose (see the file comment). */
export function writerThread(threads: typeof WorkerThreads, load: (id: string) => unknown): void {
  const port = threads.parentPort!
  const data = threads.workerData as WriterData
  const failure = (id: number, error: unknown): WriterReply => ({
    id,
    ok: false,
    message: error instanceof Error ? error.message : String(error),
    code: (error as { code?: unknown } | null)?.code === undefined ? undefined : String((error as { code: unknown }).code)
  })
  let db: Database
  try {
    const Driver = load(data.driver) as new (filename: string) => Database
    db = new Driver(data.filename)
    db.pragma("journal_mode = WAL")
    for (const pragma of data.pragmas) db.pragma(pragma)
  } catch (error) {
    port.postMessage(failure(0, error))
    return
  }
  // prepared statements by text, the most recently used last; the catalog uses a few dozen texts
  const prepared = new Map<string, Statement>()
  const statementFor = (sql: string): Statement => {
    const cached = prepared.get(sql)
    if (cached !== undefined) {
      prepared.delete(sql)
      prepared.set(sql, cached)
      return cached
    }
    const statement = db.prepare(sql)
    prepared.set(sql, statement)
    if (prepared.size > 200) prepared.delete(prepared.keys().next().value!)
    return statement
  }
  const execute = (request: WriterRequest): unknown => {
    // a failed COMMIT (below) has already rolled back, and SQLite rolls back by itself after some errors
    // (SQLITE_FULL among them): a ROLLBACK then has nothing to do, and must not fail for it
    if (request.op === "unprepared" && request.sql === "ROLLBACK" && !db.inTransaction) return []
    const statement = request.op === "unprepared" ? db.prepare(request.sql) : statementFor(request.sql)
    statement.safeIntegers(request.safeIntegers)
    if (request.op === "values") {
      if (!statement.reader) {
        statement.run(...request.params)
        return []
      }
      statement.raw(true)
      try {
        return statement.all(...request.params)
      } finally {
        statement.raw(false)
      }
    }
    if (statement.reader) return statement.all(...request.params)
    const result = statement.run(...request.params)
    return request.op === "raw" ? result : []
  }
  port.on("message", (request: WriterRequest | typeof closeRequest) => {
    if (request.op === "close") {
      try {
        db.close()
      } finally {
        port.close()
      }
      return
    }
    let reply: WriterReply
    try {
      reply = { id: request.id, ok: true, result: execute(request) }
    } catch (error) {
      reply = failure(request.id, error)
      // a COMMIT that failed (the disk full, say) may leave the transaction open, and nobody rolls back after a
      // failed COMMIT: roll back here, so the next transaction starts on a clean connection
      if (request.sql === "COMMIT" && db.inTransaction) {
        try {
          db.prepare("ROLLBACK").run()
        } catch {
          // nothing more to do: the next BEGIN reports what is wrong
        }
      }
    }
    port.postMessage(reply)
  })
  port.postMessage({ id: 0, ok: true, result: null } satisfies WriterReply)
}

/**
 * The thread's source text: `writerThread` called with the thread's own modules. `__name` is the helper that
 * esbuild's keepNames (tsx, some bundles) calls inside transformed functions; here it only has to exist.
 */
export const writerThreadSource = `"use strict"; var __name = (fn) => fn;
(${writerThread.toString()})(require("node:worker_threads"), require)`
