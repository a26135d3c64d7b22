/**
 * Choosing a store by URL. Built in: `file:///path` (a filesystem store), `temp:` (a private temp folder for the
 * layer's lifetime) and `memory:`. Other schemes are plugged in by whoever has the backend, e.g. the CLI:
 * `layerStorageFromUrl(url, { schemes: { "s3:": layerS3StorageFromUrl } })` or, process-wide,
 * `registerStoreScheme("s3:", layerS3StorageFromUrl)` — so this package never depends on a cloud SDK.
 */
import { fileURLToPath } from "node:url"
import { layerMemoryStorage, redactUrl, type Storage, StorageError } from "@cargohold/core"
import { Layer } from "effect"
import { describe } from "../fs/readStream.js"
import { layerFileStorage } from "./fileStorage.js"
import { layerTempStorage } from "./tempStorage.js"

/** Builds the Storage a URL names. */
export type StoreFactory = (url: string) => Layer.Layer<Storage, StorageError>

/** Factories by scheme, written with the colon: `{ "s3:": … }`. */
export type StoreSchemes = Readonly<Record<string, StoreFactory>>

const registered = new Map<string, StoreFactory>()

const normalizeScheme = (scheme: string): string => {
  const lower = scheme.toLowerCase()
  return lower.endsWith(":") ? lower : `${lower}:`
}

/** Makes a scheme known to every `layerStorageFromUrl` (and so `layerNode` and `fetchArtifact`) in the process. */
export const registerStoreScheme = (scheme: string, factory: StoreFactory): void => {
  registered.set(normalizeScheme(scheme), factory)
}

/** A URL fit for an error message: user, password and query (signatures, keys) removed. */
const redactStoreUrl = (url: string): string => redactUrl(url, { query: "drop" })

const configError = (detail: string) => Layer.fail(new StorageError({ operation: "configure", reason: "InvalidConfig", detail }))

/** Options of the built-in local stores (`file:`, `temp:`). */
export interface LocalStoreOptions {
  /** The free-space reserve of a filesystem store (see `FileStorageOptions.minFreeBytes`). */
  readonly minFreeBytes?: number | undefined
}

const builtIn = (local: LocalStoreOptions): StoreSchemes => ({
  "file:": (url) => {
    const parsed = new URL(url)
    if (parsed.host !== "" && parsed.host !== "localhost") {
      return configError(`store URL ${redactStoreUrl(url)} names a remote host; use file:///absolute/path`)
    }
    return layerFileStorage({ root: fileURLToPath(parsed), minFreeBytes: local.minFreeBytes })
  },
  "temp:": () => layerTempStorage({ minFreeBytes: local.minFreeBytes }),
  "memory:": () => layerMemoryStorage()
})

/** The scheme names a store URL may use here (built in, registered, passed). */
export const knownStoreSchemes = (schemes: StoreSchemes = {}): ReadonlyArray<string> =>
  [...new Set([...Object.keys(builtIn({})), ...registered.keys(), ...Object.keys(schemes).map(normalizeScheme)])].map((s) =>
    s.slice(0, -1)
  )

/**
 * The Storage layer for `url`. Fails with `StorageError` (operation `configure`) for a malformed URL or a scheme
 * nothing provides.
 */
export const layerStorageFromUrl = (
  url: string,
  options: { readonly schemes?: StoreSchemes | undefined } & LocalStoreOptions = {}
): Layer.Layer<Storage, StorageError> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    return configError(`store URL is not a valid URL (${describe(cause)}); expected e.g. file:///srv/cargohold/store`)
  }
  const scheme = parsed.protocol
  const given = Object.entries(options.schemes ?? {}).find(([name]) => normalizeScheme(name) === scheme)?.[1]
  const factory = given ?? registered.get(scheme) ?? builtIn(options)[scheme]
  if (factory === undefined) {
    return configError(
      `unknown store scheme '${scheme.slice(0, -1)}' in ${redactStoreUrl(url)} (known: ${knownStoreSchemes(options.schemes).join(", ")}` +
        (scheme === "s3:" ? "; s3:// needs @cargohold/s3 registered, as the CLI does)" : ")")
    )
  }
  return factory(url)
}
