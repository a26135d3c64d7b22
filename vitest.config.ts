import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@cargohold\/core\/testing$/, replacement: src("core/src/testing/index.ts") },
      // the non-semver machinery entry: @cargohold/core/internal/<folder>/<module>
      { find: /^@cargohold\/core\/internal\/(.*)$/, replacement: src("core/src/$1.ts") },
      { find: /^@cargohold\/core$/, replacement: src("core/src/index.ts") },
      { find: /^@cargohold\/catalog-sql\/(.*)$/, replacement: src("catalog-sql/src/$1.ts") },
      { find: /^@cargohold\/catalog-sql$/, replacement: src("catalog-sql/src/index.ts") },
      { find: /^@cargohold\/node\/otlp$/, replacement: src("node/src/otlp.ts") },
      { find: /^@cargohold\/node$/, replacement: src("node/src/index.ts") },
      { find: /^@cargohold\/s3$/, replacement: src("s3/src/index.ts") },
      { find: /^@cargohold\/cluster$/, replacement: src("cluster/src/index.ts") },
      { find: /^@cargohold\/cli$/, replacement: src("cli/src/index.ts") }
    ]
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "default", include: ["test/**/*.test.ts"] } },
      // the network contract again over the platform HttpClient path (the default above is the lean exchange)
      {
        extends: true,
        test: {
          name: "generic-transfer",
          include: ["test/network/**/*.test.ts", "test/segments/**/*.test.ts", "test/serve/serve.test.ts"],
          env: { CARGOHOLD_TEST_TRANSFER: "generic" }
        }
      }
    ]
  }
})
