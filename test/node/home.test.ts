import { statSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { ConnectionLimits, DownloadConfig, FileSource, Hasher, pureHasher } from "@cargohold/core"
import { homePath, layerNode, nodeHasher, resolveHome } from "@cargohold/node"
import { Duration, Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { tempDir } from "./helpers.js"

const dir = tempDir()
afterAll(() => dir.remove())

describe("home folder", () => {
  it("explicit option, else CARGOHOLD_HOME, else XDG_DATA_HOME/cargohold, else ~/.local/share/cargohold", () => {
    const env = { CARGOHOLD_HOME: "/srv/ch", XDG_DATA_HOME: "/data" }
    expect(homePath({ home: "/explicit" }, env)).toBe("/explicit")
    expect(homePath({}, env)).toBe("/srv/ch")
    expect(homePath({}, { XDG_DATA_HOME: "/data" })).toBe("/data/cargohold")
    expect(homePath({}, { CARGOHOLD_HOME: "", XDG_DATA_HOME: "" })).toBe(join(homedir(), ".local", "share", "cargohold"))
  })

  it("is created with mode 0700", async () => {
    const path = await Effect.runPromise(resolveHome({}, { XDG_DATA_HOME: join(dir.path, "xdg") }))
    expect(path).toBe(join(dir.path, "xdg", "cargohold"))
    expect(statSync(path).mode & 0o777).toBe(0o700)
  })

  it("an unusable home fails the layer with a clear StorageError", async () => {
    const file = join(dir.path, "a-file")
    writeFileSync(file, "")
    const exit = await Effect.runPromiseExit(
      Effect.provide(Effect.void, layerNode({ home: join(file, "home"), catalog: "memory:" }))
    )
    expect(String(exit)).toMatch(/cannot create the cargohold home/)
  })
})

describe("layerNode", () => {
  it("provides the node hasher and file source, and settings and limits when given", async () => {
    const home = join(dir.path, "h1")
    const seen = await Effect.runPromise(
      Effect.gen(function* () {
        return {
          hasher: yield* Hasher,
          files: yield* FileSource,
          settings: yield* DownloadConfig,
          limits: yield* ConnectionLimits
        }
      }).pipe(
        Effect.provide(
          layerNode({
            home,
            catalog: "memory:",
            settings: { attempts: 2, idleTimeout: Duration.seconds(3) },
            limits: { global: 5, perHost: 2 }
          })
        )
      )
    )
    expect(seen.hasher).toBe(nodeHasher)
    expect(seen.hasher).not.toBe(pureHasher)
    expect(seen.settings.attempts).toBe(2)
    expect(Duration.toMillis(seen.settings.idleTimeout)).toBe(3000)
    expect(seen.limits.global).toBe(5)
    expect(seen.limits.perHost).toBe(2)
    expect(statSync(join(home, "store", ".tmp")).isDirectory()).toBe(true)
  })
})
