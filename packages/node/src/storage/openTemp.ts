/**
 * Opening a store's temp files: named after this process (tempOwners.ts), read-only from the start when the
 * umask allows it, and the probe that tells whether it does.
 */
import { unlink } from "node:fs/promises"
import { join } from "node:path"
import type { StorageError } from "@cargohold/core"
import { Effect } from "effect"
import { openDescriptor } from "./descriptor.js"
import { type StoreLayout, storageFailure } from "./storeLayout.js"
import { TempFile } from "./tempFile.js"
import { ownedName } from "./tempOwners.js"

/** Checks whether files created with mode 0444 come out exactly 0444 in `tmpDir` (see `readOnlyAtCreate`). */
export const createsReadOnly = async (tmpDir: string): Promise<boolean> => {
  const path = join(tmpDir, ownedName("probe"))
  const handle = await openDescriptor(path, "wx", 0o444)
  try {
    return ((await handle.stat()).mode & 0o777) === 0o444
  } finally {
    await handle.close()
    await unlink(path).catch(() => undefined)
  }
}

/** Opens a fresh temp file under `<root>/.tmp/`. */
export const openTempFile = (layout: StoreLayout, tmpDir: string): Effect.Effect<TempFile, StorageError> =>
  Effect.tryPromise({
    try: async () => {
      // named after this process (see tempOwners.ts): once it dies, the next process to open the store removes it
      const path = join(tmpDir, ownedName("part"))
      // read-only from the start when the umask allows it: the descriptor stays writable, commit skips chmod;
      // opened for reading too: a segmented download hashes what it wrote back through `readAt`
      const handle = await openDescriptor(path, "wx+", layout.readOnlyAtCreate ? 0o444 : 0o600)
      return new TempFile(layout, path, handle)
    },
    catch: (cause) => storageFailure("begin", cause)
  })
