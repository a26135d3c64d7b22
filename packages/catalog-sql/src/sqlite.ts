/**
 * The Catalog on SQLite (better-sqlite3): WAL journal and a busy timeout, so several processes can share a file;
 * writes in a thread of their own (sqliteClient.ts).
 */
import type { Catalog, CatalogError, Remotes } from "@cargohold/core"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { asCatalogError, catalogError } from "./errors.js"
import { makeDirectoriesSync } from "./folders.js"
import { layerSecretBoxDefault, type SecretBox } from "./SecretBox.js"
import { layerSqlCatalog } from "./SqlCatalog.js"
import { makeSqliteFileClient } from "./sqliteClient.js"

export interface SqliteCatalogOptions {
  /** The database file (created with its folder when missing), or `:memory:`. */
  readonly filename: string
  /** `$CARGOHOLD_HOME`, where `secret.key` lives unless `CARGOHOLD_SECRET_KEY` is set. */
  readonly home?: string
  /** Replaces the default secret box (tests, embedding programs). */
  readonly secretBox?: Layer.Layer<SecretBox>
  /** Milliseconds a writer waits for another process's write lock (default 30 s). */
  readonly busyTimeoutMs?: number
  /**
   * The page cache's most (default 16 MiB, grown only as used). A larger one buys nothing measurable: missed pages
   * come back from the OS page cache (bench at 1,000,000 artifacts: 32 MiB records 27,000/s with a 0.084 ms lookup,
   * 256 MiB 28,038/s and 0.082 ms; another day, one after the other, 16 MiB 18,524/s and 0.073 ms, 32 MiB 19,024/s
   * and 0.103 ms), while it grows with the catalog (≈ 10 MiB per 20,000 artifacts) and so does the memory of every
   * process that uses it, twice (the writer thread's connection and the reader's): at 32 MiB a batch of 100,000
   * peaked 1.24× higher than one of 20,000, at 16 MiB 1.14× (`npm run bench -- --workload 3`).
   */
  readonly cacheSizeMiB?: number
}

/**
 * Connection settings, applied to every connection on the file (the writer thread's and this thread's).
 * WAL mode is set first, by the writer.
 */
const connectionPragmas = (options: Pick<SqliteCatalogOptions, "busyTimeoutMs" | "cacheSizeMiB">): ReadonlyArray<string> => [
  `busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 30_000))}`,
  "foreign_keys = ON",
  // Deleted and overwritten row content is zeroed inside its page (FAST: without extra I/O), so a rewritten
  // remote row (see resealRemotes) leaves no old bytes in the file's free space.
  "secure_delete = FAST",
  // FULL: a committed batch survives power loss too (NORMAL in WAL mode may lose the last commits).
  "synchronous = FULL",
  // 16 MiB at most by default (see `cacheSizeMiB`)
  `cache_size = -${Math.max(1, Math.floor(options.cacheSizeMiB ?? 16)) * 1024}`,
  // Checkpoint every 256 MiB of WAL rather than 4 MiB: the digest and URL index pages that consecutive
  // batches dirty again are copied into the database file once per few batches instead of once per batch
  // (a batch of 10,000 new artifacts dirties pages all over them; bench at 1M artifacts: 64 MiB 22k/s,
  // 256 MiB 26k/s, 512 MiB no better). The WAL file grows to that size. (No effect on durability.)
  "wal_autocheckpoint = 65536",
  // A bulk upsert dirties thousands of pages, each saved once in the statement journal (to undo that one
  // statement if it fails): in memory rather than spilled to a temporary file (300k artifacts: 0.3 GB fewer
  // bytes written). Temporary tables and sorts stay in memory too. (No effect on durability.)
  "temp_store = MEMORY"
]

/**
 * An SqlClient on a SQLite file, in WAL mode with a busy timeout and foreign keys on. On a file, writes run in a
 * writer thread and reads on this thread (see sqliteClient.ts): the event loop never waits for a commit. Several
 * clients on one file in one process are fine, and so are other processes (a writer waits up to `busyTimeoutMs`
 * for another's lock, in its own thread). `:memory:` is one connection on this thread (a second connection would
 * see another database).
 */
export const layerSqliteClient = (
  options: Pick<SqliteCatalogOptions, "filename" | "busyTimeoutMs" | "cacheSizeMiB">
): Layer.Layer<SqlClient.SqlClient, CatalogError> =>
  Layer.scoped(
    SqlClient.SqlClient,
    Effect.gen(function* () {
      const { filename } = options
      const pragmas = connectionPragmas(options)
      if (filename === ":memory:") {
        const client = yield* SqliteClient.make({ filename }).pipe(
          Effect.catchAllDefect((defect) => Effect.fail(catalogError("open sqlite", defect)))
        )
        yield* Effect.forEach(pragmas, (pragma) => client.unsafe(`PRAGMA ${pragma}`), { discard: true }).pipe(
          asCatalogError("open sqlite")
        )
        return client
      }
      yield* Effect.try({
        try: () => makeDirectoriesSync(path.dirname(path.resolve(filename))),
        catch: (error) => catalogError("open sqlite", error)
      })
      return yield* makeSqliteFileClient(filename, pragmas)
    })
  ).pipe(Layer.provide(Reactivity.layer))

/** The Catalog (with its Remotes) in a SQLite file. */
export const layerSqliteCatalog = (options: SqliteCatalogOptions): Layer.Layer<Catalog | Remotes, CatalogError> =>
  layerSqlCatalog().pipe(
    Layer.provide(Layer.merge(layerSqliteClient(options), options.secretBox ?? layerSecretBoxDefault({ home: options.home })))
  )
