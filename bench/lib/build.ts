/**
 * Bundles the bench scripts (bench/scripts/*.ts) with esbuild into plain ESM, packages left external so they
 * resolve from the workspace's node_modules exactly as a user's program would. No tsx at measurement time.
 */
import { build } from "esbuild"
import { join } from "node:path"
import type { BuiltScripts } from "./contenders.js"

export const buildScripts = async (repoRoot: string, outDir: string): Promise<BuiltScripts> => {
  const entries = { rawUndici: "raw-undici", mfh: "mfh", cargoholdLib: "cargohold-lib", storagePath: "storage-path" } as const
  await build({
    entryPoints: Object.values(entries).map((name) => join(repoRoot, "bench/scripts", `${name}.ts`)),
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning"
  })
  return {
    rawUndici: join(outDir, `${entries.rawUndici}.mjs`),
    mfh: join(outDir, `${entries.mfh}.mjs`),
    cargoholdLib: join(outDir, `${entries.cargoholdLib}.mjs`),
    storagePath: join(outDir, `${entries.storagePath}.mjs`)
  }
}
