/**
 * Folders that cannot be made, and the home rule:
 * - Node 20's recursive mkdir spins forever at full CPU when a parent refuses the child with ENOENT (procfs), so
 *   a catalog, home or output folder under /proc hung the CLI. Each now fails at once: one line, exit 2.
 * - `CARGOHOLD_HOME=` (empty) with both --catalog and --store given put `secret.key` in the current folder: the
 *   SQL catalog's secret box had a home rule of its own. There is one rule now (`homeSegments`).
 */
import { existsSync, mkdirSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { resolveHome as catalogHome } from "@cargohold/catalog-sql"
import { homePath } from "@cargohold/node"
import { afterAll, describe, expect, it } from "vitest"
import { runCli, tempDir } from "../cli/helpers.js"

const scratch = tempDir("cargohold-faults-folders-")
afterAll(() => scratch.remove())
const env = { CARGOHOLD_HOME: join(scratch.path, "home") }

describe("a folder that cannot be made fails at once", () => {
  const cases: ReadonlyArray<{ readonly name: string; readonly args: ReadonlyArray<string>; readonly says: RegExp }> = [
    { name: "a SQLite catalog under /proc", args: ["ls", "--catalog", "sqlite:///proc/cargohold-x/catalog.db"], says: /catalog.*\/proc\/cargohold-x/ },
    { name: "a home under /proc", args: ["ls", "--home", "/proc/cargohold-y"], says: /home.*\/proc\/cargohold-y/ },
    { name: "--output-dir under /proc", args: ["fetch", "--output-dir", "/proc/cargohold-z", "http://127.0.0.1:1/a"], says: /--output-dir: cannot create \/proc\/cargohold-z/ }
  ]
  for (const { name, args, says } of cases) {
    it(name, async () => {
      const result = await runCli(args, { env, killAfterMs: 45_000 })
      expect(result.code, `killed: the CLI hung (${result.stderr})`).toBe(2)
      expect(result.stderr).toMatch(says)
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).not.toMatch(/internal error|^\s+at /m)
    }, 60_000)
  }
})

describe("one home rule", () => {
  it("the SQL catalogs' secret box and the Node layers agree, empty values counting as unset", () => {
    const saved = { ...process.env }
    try {
      for (const vars of [
        { CARGOHOLD_HOME: "/srv/ch", XDG_DATA_HOME: "/data" },
        { CARGOHOLD_HOME: "", XDG_DATA_HOME: "/data" },
        { CARGOHOLD_HOME: "", XDG_DATA_HOME: "" }
      ]) {
        process.env.CARGOHOLD_HOME = vars.CARGOHOLD_HOME
        process.env.XDG_DATA_HOME = vars.XDG_DATA_HOME
        expect(catalogHome()).toBe(homePath({}, vars))
      }
      expect(catalogHome()).toBe(join(homedir(), ".local", "share", "cargohold"))
    } finally {
      process.env.CARGOHOLD_HOME = saved.CARGOHOLD_HOME
      process.env.XDG_DATA_HOME = saved.XDG_DATA_HOME
      if (saved.CARGOHOLD_HOME === undefined) delete process.env.CARGOHOLD_HOME
      if (saved.XDG_DATA_HOME === undefined) delete process.env.XDG_DATA_HOME
    }
  })

  it("CARGOHOLD_HOME= with --catalog and --store keeps secret.key out of the current folder", async () => {
    const cwd = join(scratch.path, "cwd")
    const xdg = join(scratch.path, "xdg")
    mkdirSync(cwd, { recursive: true })
    const urls = ["--catalog", `sqlite://${join(scratch.path, "c", "catalog.db")}`, "--store", `file://${join(scratch.path, "store")}`]
    const added = await runCli(["remote", "add", "mirror", "http://127.0.0.1:1/", "--header", "X-Token: planted-value", ...urls], {
      env: { CARGOHOLD_HOME: "", XDG_DATA_HOME: xdg },
      cwd
    })
    expect(added.code, added.stderr).toBe(0)
    expect(existsSync(join(cwd, "secret.key"))).toBe(false)
    expect(existsSync(join(xdg, "cargohold", "secret.key"))).toBe(true)
  })
})
