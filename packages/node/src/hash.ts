/**
 * A `Hasher` on node:crypto: the same digests as core's pure-JS hasher, several times faster.
 */
import { createHash } from "node:crypto"
import { Hasher, type HasherService } from "@cargohold/core"
import { Layer } from "effect"

export const nodeHasher: HasherService = {
  create: (algorithm) => {
    const hash = createHash(algorithm)
    return {
      update: (chunk) => {
        hash.update(chunk)
      },
      hex: () => hash.digest("hex")
    }
  }
}

/** Provides the node:crypto `Hasher`. */
export const layerNodeHasher: Layer.Layer<Hasher> = Layer.succeed(Hasher, nodeHasher)
