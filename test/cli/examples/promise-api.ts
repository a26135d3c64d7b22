// The same job from code that does not use Effect: one call per artifact, the same typed error classes.
import { DigestMismatch, HttpStatusError } from "@cargohold/core"
import { close, fetchArtifact } from "@cargohold/node"

export async function fetchVerified(url: string, sha256: string, size: number, home: string): Promise<string | undefined> {
  try {
    // already stored with this digest? then no request is made at all
    const artifact = await fetchArtifact(url, { sha256, size, home })
    console.log(`${artifact.cached ? "had" : "got"} ${artifact.sha256} (${artifact.size} bytes)`)
    return artifact.path // the content-addressed file in the local store
  } catch (error) {
    if (error instanceof DigestMismatch) {
      console.error(`${url} served other bytes: ${error.actual}, expected ${error.expected}`)
      return undefined
    }
    if (error instanceof HttpStatusError && error.status === 404) return undefined
    throw error
  }
}

// once, at shutdown: releases the shared connection pool and the catalog
export const shutdown = (): Promise<void> => close()
