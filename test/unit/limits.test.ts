/**
 * Per-remote limiters: shared by the remotes of one name and one limit setting, fresh when a remote is redefined
 * with other limits.
 */
import { describe, expect, it } from "@effect/vitest"
import { makeLimiter, Remote } from "@cargohold/core"

const remote = (maxConnections: number) =>
  new Remote({ name: "mirror", url: "https://mirror.test/", headers: {}, limits: { maxConnections } })

describe("per-remote limiters", () => {
  it("same name and limits share one limiter; other limits get their own; no limits: the process's", () => {
    const limiter = makeLimiter({ global: 8, perHost: 4 })
    expect(limiter.forRemote(remote(2))).toBe(limiter.forRemote(remote(2)))
    expect(limiter.forRemote(remote(3))).not.toBe(limiter.forRemote(remote(2)))
    const plain = new Remote({ name: "plain", url: "https://plain.test/", headers: {} })
    expect(limiter.forRemote(plain)).toBe(limiter.forRemote(undefined))
  })
})
