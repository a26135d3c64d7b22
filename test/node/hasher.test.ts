import { algorithms, pureHasher } from "@cargohold/core"
import { nodeHasher } from "@cargohold/node"
import { describe, expect, it } from "vitest"
import { bytes } from "./helpers.js"

describe("node:crypto Hasher", () => {
  it.each(algorithms)("%s equals the pure hasher, fed in uneven chunks", (algorithm) => {
    const data = bytes(300_001, 7)
    const node = nodeHasher.create(algorithm)
    const pure = pureHasher.create(algorithm)
    for (let offset = 0, step = 1; offset < data.length; offset += step, step = step * 3 + 1) {
      const chunk = data.subarray(offset, Math.min(data.length, offset + step))
      node.update(chunk)
      pure.update(chunk)
    }
    expect(node.hex()).toBe(pure.hex())
  })

  it.each(algorithms)("%s of nothing equals the pure hasher", (algorithm) => {
    expect(nodeHasher.create(algorithm).hex()).toBe(pureHasher.create(algorithm).hex())
  })
})
