#!/usr/bin/env node
/**
 * Bundles the CLI (packages/cli/dist/main.js, emitted by `tsc -b`) into one tree-shaken ESM file,
 * packages/cli/dist/cargohold.js, which bin/cargohold.js runs. Native or heavy optional dependencies stay external
 * and load from node_modules only when a command needs them (SQLite, PostgreSQL, the AWS SDK).
 */
import { build } from "esbuild"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Native and heavy CommonJS packages: required when the module that imports them is first evaluated (that is,
 * when a command opens a SQL catalog), not at start-up as a hoisted top-level `import` would.
 */
const lazyPackages = /^(better-sqlite3|pg|pg-native)$/
const lazyExternals = {
  name: "lazy-externals",
  setup(build) {
    build.onResolve({ filter: lazyPackages }, (args) =>
      args.namespace === "lazy-external" ? { path: args.path, external: true } : { path: args.path, namespace: "lazy-external" }
    )
    build.onLoad({ filter: /.*/, namespace: "lazy-external" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: "js"
    }))
  }
}

await build({
  entryPoints: [join(here, "dist/main.js")],
  outfile: join(here, "dist/cargohold.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  treeShaking: true,
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  external: ["@aws-sdk/*", "@smithy/*", "msgpackr-extract"],
  plugins: [lazyExternals],
  // CommonJS dependencies inside an ESM bundle still call require()
  banner: { js: 'import { createRequire as __cargoholdRequire } from "node:module"; const require = __cargoholdRequire(import.meta.url);' }
})
