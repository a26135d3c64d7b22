/**
 * The root of @cargohold/core is the public API, exported by name; machinery stays behind the non-semver
 * `@cargohold/core/internal/<folder>/<module>` entry. This guards the line: known machinery is not in the root, the
 * root re-exports only curated indexes with `export *`, and the internal entry reaches the machinery it promises.
 */
import * as Core from "@cargohold/core"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"

const machinery = [
  "HostGate",
  "HostPermit",
  "MultiHash",
  "classifyTransportError",
  "partialProblem",
  "retrySchedule",
  "isRetryable",
  "coalesce",
  "inFlightCount",
  "nextDownloadId",
  "runPendingSyncs",
  "OriginHealth",
  "rankCandidates",
  "needsTransport",
  "nextHop",
  "TokenBucket",
  "parseRange",
  "etagOf",
  "copyVerified",
  "hashStream",
  "resolveStores",
  "makeBatchRecorder"
]

describe("@cargohold/core public API", () => {
  it("does not export machinery from the root", () => {
    const leaked = machinery.filter((name) => name in Core)
    expect(leaked).toEqual([])
  })

  it("re-exports with `export *` only curated index modules", () => {
    const index = readFileSync(resolve(import.meta.dirname, "../../packages/core/src/index.ts"), "utf8")
    const starred = [...index.matchAll(/export \* from "(.*?)"/g)].map((m) => m[1])
    expect(starred.filter((path) => !path?.endsWith("/index.js"))).toEqual([])
  })

  it("reaches the machinery through the internal entry", async () => {
    const limits = await import("@cargohold/core/internal/http/hostGate")
    expect(typeof limits.HostGate).toBe("function")
  })
})
