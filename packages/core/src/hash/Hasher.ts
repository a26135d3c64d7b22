/**
 * Incremental hashing of several algorithms at once.
 *
 * A `Context.Reference`: the default is a pure-JS implementation (@noble/hashes) so the core runs anywhere;
 * the Node package provides a `node:crypto` one, several times faster.
 */
import { md5, sha1 } from "@noble/hashes/legacy.js"
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import { Context } from "effect"
import type { Algorithm } from "../domain/digest.js"

/** One running hash. */
export interface RunningHash {
  update(chunk: Uint8Array): void
  /** The lower-case hex digest; the hash cannot be updated afterwards. */
  hex(): string
}

export interface HasherService {
  /** Starts a running hash of `algorithm`. */
  readonly create: (algorithm: Algorithm) => RunningHash
}

const noble = { sha256, sha384, sha512, sha1, md5 } as const

export const pureHasher: HasherService = {
  create: (algorithm) => {
    const hash = noble[algorithm].create()
    return {
      update: (chunk) => {
        hash.update(chunk)
      },
      hex: () => bytesToHex(hash.digest())
    }
  }
}

export class Hasher extends Context.Reference<Hasher>()("@cargohold/core/Hasher", {
  defaultValue: (): HasherService => pureHasher
}) {}

/** Several running hashes fed the same bytes. */
export class MultiHash {
  private readonly hashes: ReadonlyArray<readonly [Algorithm, RunningHash]>
  constructor(hasher: HasherService, algorithms: Iterable<Algorithm>) {
    this.hashes = [...new Set(algorithms)].map((algorithm) => [algorithm, hasher.create(algorithm)] as const)
  }
  update(chunk: Uint8Array): void {
    for (const [, hash] of this.hashes) hash.update(chunk)
  }
  digests(): Partial<Record<Algorithm, string>> {
    const out: Partial<Record<Algorithm, string>> = {}
    for (const [algorithm, hash] of this.hashes) out[algorithm] = hash.hex()
    return out
  }
}
