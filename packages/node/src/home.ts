/**
 * Where the embedded default keeps its catalog and store.
 */
import { chmod } from "node:fs/promises"
import { homedir } from "node:os"
import { resolve } from "node:path"
import { homeSegments, StorageError } from "@cargohold/core"
import { Effect } from "effect"
import { makeDirectories } from "./fs/directories.js"
import { describe } from "./fs/readStream.js"

export interface HomeOptions {
  /** An explicit folder; wins over the environment. */
  readonly home?: string | undefined
}

/**
 * The home folder, without touching the disk: `options.home`, else `$CARGOHOLD_HOME`, else
 * `$XDG_DATA_HOME/cargohold`, else `~/.local/share/cargohold`.
 */
export const homePath = (
  options: HomeOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env
): string => resolve(...homeSegments(options.home, env, homedir()))

/** Resolves the home folder and creates it (mode 0700) when missing. */
export const resolveHome = (
  options: HomeOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<string, StorageError> =>
  Effect.tryPromise({
    try: async () => {
      const path = homePath(options, env)
      const created = await makeDirectories(path, 0o700)
      // mkdir's mode is filtered by the umask; the home itself is made private explicitly
      if (created !== undefined) await chmod(path, 0o700)
      return path
    },
    catch: (cause) => new StorageError({ operation: "home", reason: "Io", detail: `cannot create the cargohold home: ${describe(cause)}` })
  })
