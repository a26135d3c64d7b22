/**
 * One training run (trainCodeCache.ts starts it): `node makeCodeCache.js CACHE ARGS…` runs `cargohold ARGS…` as
 * bin/cargohold.js would, reading the cache CACHE when there is one, and at exit writes CACHE again with every
 * function compiled by then: those the cache brought and those this command compiled. A chain of such runs, each
 * reading the previous one's cache, gathers what several commands use into one file.
 */
import { fileURLToPath } from "node:url"
import { runBundle } from "./bundleScript.js"

const [cache, ...args] = process.argv.slice(2)
if (cache === undefined) {
  process.stderr.write("usage: node makeCodeCache.js CACHE [ARGS…]\n")
  process.exit(2)
}
// What the CLI sees is argv as bin/cargohold.js would have it
const bin = fileURLToPath(new URL("../../bin/cargohold.js", import.meta.url))
process.argv.splice(1, process.argv.length - 1, bin, ...args)
runBundle({ cachePath: cache, produce: cache })
