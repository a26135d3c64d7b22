#!/usr/bin/env node
/**
 * Bundles the CLI (packages/cli/dist/main.js, emitted by `tsc -b`) into one tree-shaken CommonJS file,
 * packages/cli/dist/cargohold.cjs, which bin/cargohold.js compiles through a V8 code cache (src/launch/). Native or
 * heavy optional dependencies stay external and load from node_modules only when a command needs them (SQLite,
 * PostgreSQL, the AWS SDK).
 *
 * CommonJS, not ESM: a classic script can be compiled by `vm.Script` with `cachedData`, so the start-up skips
 * parsing and compiling the functions it uses (an ES module has no such API in Node 20). The sources' dynamic
 * `import()` of bundled modules becomes a plain call (esbuild inlines it); `import.meta.url` becomes the bundle's
 * file URL (see the banner).
 */
import { build } from "esbuild"
import { rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const outfile = join(here, "dist/cargohold.cjs")

/**
 * Native and heavy CommonJS packages: required when the module that imports them is first evaluated (that is,
 * when a command opens a SQL catalog or an S3 store), not at start-up. The AWS SDK is imported with `import()`:
 * through this wrapper it becomes a `require()` inside a promise, so the bundle holds no `import()` at all (which a
 * `vm.Script` could only run with an experimental loader hook).
 */
const lazyPackages = /^(better-sqlite3|pg|pg-native|@aws-sdk\/client-s3)$/
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

// The ESM bundle of earlier builds, and a code cache made for another bundle (the build makes a new one next)
for (const stale of ["dist/cargohold.js", "dist/cargohold.js.map", "dist/cargohold.cjs.cache"]) rmSync(join(here, stale), { force: true })

await build({
  entryPoints: [join(here, "dist/main.js")],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  treeShaking: true,
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  external: ["@aws-sdk/*", "@smithy/*", "msgpackr-extract"],
  plugins: [lazyExternals],
  define: { "import.meta.url": "__cargoholdImportMetaUrl" },
  // Strict mode, as the ES modules the sources are (a CommonJS script is sloppy unless it says so); the file URL
  // that `import.meta.url` stood for (`createRequire(import.meta.url)` in the sources and dependencies)
  banner: { js: '"use strict";var __cargoholdImportMetaUrl=require("node:url").pathToFileURL(__filename).href;' }
})
