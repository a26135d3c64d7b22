/**
 * The SQLite writer thread, seen from the thread that opens the catalog: a worker_threads worker owning the one
 * connection that writes (see sqliteWriterThread.ts for its side), and an asynchronous `execute` that sends it a
 * statement and resumes when the answer comes back.
 *
 * Why a thread: better-sqlite3 is synchronous, and with `synchronous = FULL` every commit waits for the WAL's
 * fsync. On the event loop that wait stops every socket and timer of the process (12% of a small-file batch's
 * profile); in the writer thread the loop goes on receiving, hashing and storing while the disk syncs.
 *
 * Statements run one at a time in the order they are sent; a transaction is simply its statements sent in order
 * by the one fiber that holds the writer (see sqliteClient.ts). The worker keeps the process alive only while a
 * statement is outstanding, so an idle catalog never holds a program open.
 */
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, type Scope } from "effect"
import { catalogError } from "./errors.js"
import type { CatalogError } from "@cargohold/core"
import { closeRequest, type WriterData, type WriterOp, type WriterReply, type WriterRequest, writerThreadSource } from "./sqliteWriterThread.js"

export interface SqliteWriter {
  /** Runs one statement in the writer thread. */
  readonly execute: (op: WriterOp, sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) => Effect.Effect<unknown, SqlError>
}

/** The error a failed statement had in the writer thread, rebuilt here (message and SQLite code). */
const threadError = (message: string, code: string | undefined): Error =>
  Object.assign(new Error(message), code === undefined ? {} : { code })

/**
 * Starts the writer thread on `filename` (WAL mode, then `pragmas`); waits until its connection is open. The thread
 * closes its connection and ends when the scope closes, after every statement already sent.
 */
export const startSqliteWriter = (
  filename: string,
  pragmas: ReadonlyArray<string>
): Effect.Effect<SqliteWriter, CatalogError, Scope.Scope> =>
  Effect.gen(function* () {
    const data: WriterData = { driver: createRequire(import.meta.url).resolve("better-sqlite3"), filename, pragmas }
    const waiting = new Map<number, (reply: WriterReply) => void>()
    let lastId = 0
    /** Set once the thread is gone: every later statement fails with it. */
    let gone: Error | undefined
    const worker = yield* Effect.acquireRelease(
      Effect.async<Worker, CatalogError>((resume) => {
        const worker = new Worker(writerThreadSource, { eval: true, workerData: data })
        const failed = (error: Error) => {
          worker.off("message", started)
          resume(Effect.fail(catalogError("open sqlite", error)))
        }
        const started = (reply: WriterReply) => {
          if (reply.id !== 0) return
          worker.off("message", started)
          worker.off("error", failed)
          if (reply.ok) resume(Effect.succeed(worker))
          else {
            void worker.terminate()
            resume(Effect.fail(catalogError("open sqlite", threadError(reply.message, reply.code))))
          }
        }
        worker.on("message", started)
        worker.once("error", failed)
      }),
      (worker) =>
        Effect.async<void>((resume) => {
          if (gone !== undefined) return resume(Effect.void)
          worker.once("exit", () => resume(Effect.void))
          worker.ref() // until the connection is closed: its last checkpoint must not be cut short
          worker.postMessage(closeRequest)
        })
    )
    const endAll = (error: Error) => {
      gone ??= error
      for (const [id, settle] of waiting) {
        waiting.delete(id)
        settle({ id, ok: false, message: error.message, code: undefined })
      }
    }
    worker.on("message", (reply: WriterReply) => {
      const settle = waiting.get(reply.id)
      if (settle === undefined) return
      waiting.delete(reply.id)
      if (waiting.size === 0) worker.unref()
      settle(reply)
    })
    worker.on("error", (error) => endAll(error))
    worker.on("exit", (code) => endAll(new Error(`the SQLite writer thread ended (exit code ${code})`)))
    worker.unref()

    const execute = (op: WriterOp, sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) =>
      Effect.async<unknown, SqlError>((resume) => {
        if (gone !== undefined) return resume(Effect.fail(new SqlError({ cause: gone, message: "Failed to execute statement" })))
        const id = ++lastId
        const request: WriterRequest = { id, op, sql, params, safeIntegers }
        waiting.set(id, (reply) =>
          resume(
            reply.ok
              ? Effect.succeed(reply.result)
              : Effect.fail(new SqlError({ cause: threadError(reply.message, reply.code), message: "Failed to execute statement" }))
          )
        )
        if (waiting.size === 1) worker.ref()
        worker.postMessage(request)
      })
    return { execute }
  })
