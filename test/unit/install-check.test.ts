/**
 * scripts/test.sh skips `npm ci` when node_modules matches package-lock.json (npm's hidden lockfile agrees with
 * it) and installs otherwise: a fresh clone, a changed lockfile, a missing package.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const script = resolve(import.meta.dirname, "../../scripts/installed-matches-lock.mjs")

const lock = {
  name: "x",
  lockfileVersion: 3,
  packages: {
    "": { name: "x" },
    "node_modules/a": { version: "1.0.0", resolved: "https://r/a-1.0.0.tgz", integrity: "sha512-a" },
    "node_modules/@b/linux": { version: "2.0.0", optional: true, os: ["linux"] },
    "node_modules/@b/darwin": { version: "2.0.0", optional: true, os: ["darwin"] }
  }
}
const installedOf = (packages: Record<string, unknown>) => ({ name: "x", lockfileVersion: 3, packages })

const check = (installed: unknown | undefined): number => {
  const dir = mkdtempSync(join(tmpdir(), "cargohold-install-"))
  try {
    mkdirSync(join(dir, "scripts"))
    copyFileSync(script, join(dir, "scripts/check.mjs"))
    writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock))
    if (installed !== undefined) {
      mkdirSync(join(dir, "node_modules"))
      writeFileSync(join(dir, "node_modules/.package-lock.json"), JSON.stringify(installed))
    }
    return spawnSync(process.execPath, [join(dir, "scripts/check.mjs")], { stdio: "ignore" }).status ?? -1
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("installed-matches-lock", () => {
  const { "": _root, "node_modules/@b/darwin": _other, ...onLinux } = lock.packages
  it("matches: what npm installed is the lockfile, minus another platform's optional binary", () => {
    expect(check(installedOf(onLinux))).toBe(0)
  })
  it("a fresh clone (no node_modules) installs", () => {
    expect(check(undefined)).toBe(1)
  })
  it("a changed version or a missing required package installs", () => {
    expect(check(installedOf({ ...onLinux, "node_modules/a": { ...lock.packages["node_modules/a"], version: "0.9.0" } }))).toBe(1)
    const { "node_modules/a": _a, ...withoutA } = onLinux
    expect(check(installedOf(withoutA))).toBe(1)
  })
})
