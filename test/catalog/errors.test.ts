/**
 * Clear, typed errors that never show a credential: catalog URLs, unreachable PostgreSQL, secret keys.
 */
import { layerSqlCatalogFromUrl, layerSecretBoxDefault, parseCatalogUrl, SecretBox } from "@cargohold/catalog-sql"
import { Catalog } from "@cargohold/core"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import { createSqliteFolder } from "./databases.js"

const folder = createSqliteFolder()
afterAll(() => folder.remove())
const password = "Pg-Secret-9xq!"
const open = (url: string) => Effect.flip(Effect.provide(Effect.flatMap(Catalog, (c) => c.count()), layerSqlCatalogFromUrl(url)))

describe("catalog URLs", () => {
  it.effect("parses sqlite and postgresql URLs", () =>
    Effect.gen(function* () {
      expect(yield* parseCatalogUrl("sqlite:///var/lib/cargohold/catalog.db")).toEqual({
        _tag: "Sqlite",
        filename: "/var/lib/cargohold/catalog.db"
      })
      expect(yield* parseCatalogUrl("sqlite:///tmp/with%20space.db")).toEqual({ _tag: "Sqlite", filename: "/tmp/with space.db" })
      expect((yield* parseCatalogUrl("postgres://u@127.0.0.1/db"))._tag).toBe("Pg")
      expect((yield* parseCatalogUrl("postgresql://u@127.0.0.1:5432/db"))._tag).toBe("Pg")
    })
  )

  it.live("refuses unknown schemes and relative sqlite paths with a clear message and no password", () =>
    Effect.gen(function* () {
      const mysql = yield* open(`mysql://root:${password}@127.0.0.1/db`)
      expect(mysql._tag).toBe("CatalogError")
      expect(mysql.message).toContain('unsupported catalog URL scheme "mysql:"')
      expect(mysql.message).not.toContain(password)
      expect((yield* open("sqlite://relative/catalog.db")).message).toContain("absolute path")
      expect((yield* open("/just/a/path.db")).message).toContain("catalog")
    })
  )

  it.live("an unreachable or missing PostgreSQL database is a CatalogError naming the host, never the password", () =>
    Effect.gen(function* () {
      const refused = yield* open(`postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:1/test`)
      expect(refused._tag).toBe("CatalogError")
      expect(refused.message).toContain("127.0.0.1:1")
      expect(refused.message).not.toContain(password)
      expect(refused.message).not.toContain(encodeURIComponent(password))
      const missing = yield* open(`postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:5432/cargohold_no_such_db`)
      expect(missing.message).toContain("cargohold_no_such_db")
      expect(missing.message).not.toContain(password)
      expect(missing.message).not.toContain(encodeURIComponent(password))
    })
  )

  it.live("a sqlite file that cannot be opened is a CatalogError", () =>
    Effect.gen(function* () {
      const error = yield* open(`sqlite://${folder.dir}`)
      expect(error._tag).toBe("CatalogError")
    })
  )
})

describe("secret key", () => {
  const roundTrip = (home: string) =>
    Effect.flatMap(SecretBox, (box) =>
      Effect.flatMap(box.seal("hello", "ctx"), (sealed) => box.open(sealed, "ctx"))
    ).pipe(Effect.provide(Layer.fresh(layerSecretBoxDefault({ home }))))

  it.live("is created once as <home>/secret.key with mode 0600 and reused", () =>
    Effect.gen(function* () {
      const saved = process.env.CARGOHOLD_SECRET_KEY
      delete process.env.CARGOHOLD_SECRET_KEY
      try {
        const home = folder.file("home")
        const sealedBy = yield* Effect.provide(
          Effect.flatMap(SecretBox, (box) => box.seal("s", "ctx")),
          Layer.fresh(layerSecretBoxDefault({ home }))
        )
        const file = `${home}/secret.key`
        expect(statSync(file).mode & 0o777).toBe(0o600)
        expect(Buffer.from(readFileSync(file, "utf8").trim(), "base64").length).toBe(32)
        const opened = yield* Effect.provide(
          Effect.flatMap(SecretBox, (box) => box.open(sealedBy, "ctx")),
          Layer.fresh(layerSecretBoxDefault({ home }))
        )
        expect(opened).toBe("s")
        expect(yield* roundTrip(home)).toBe("hello")
      } finally {
        if (saved !== undefined) process.env.CARGOHOLD_SECRET_KEY = saved
      }
    })
  )

  it.live("comes from CARGOHOLD_SECRET_KEY (hex or base64); a bad one is refused without echoing it", () =>
    Effect.gen(function* () {
      const saved = process.env.CARGOHOLD_SECRET_KEY
      try {
        process.env.CARGOHOLD_SECRET_KEY = randomBytes(32).toString("hex")
        expect(yield* roundTrip(folder.file("unused-1"))).toBe("hello")
        process.env.CARGOHOLD_SECRET_KEY = randomBytes(32).toString("base64")
        expect(yield* roundTrip(folder.file("unused-2"))).toBe("hello")
        process.env.CARGOHOLD_SECRET_KEY = "not-a-key-but-a-secret-phrase"
        const error = yield* Effect.flip(roundTrip(folder.file("unused-3")))
        expect(error.message).toContain("CARGOHOLD_SECRET_KEY must hold 32 bytes")
        expect(error.message).not.toContain("secret-phrase")
      } finally {
        if (saved === undefined) delete process.env.CARGOHOLD_SECRET_KEY
        else process.env.CARGOHOLD_SECRET_KEY = saved
      }
    })
  )
})
