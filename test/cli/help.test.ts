/**
 * `cargohold … --help`: a real one-line description for every option and argument, usage lines that say
 * `cargohold …`, lines that fit 80 columns off a terminal, colour only on a terminal without NO_COLOR, and the
 * notes fetch needs (exit codes, manifest formats).
 */
import { describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { Command } from "@effect/cli"
import { HashMap } from "effect"
import { cargohold, described, type HelpNode, helpTree } from "@cargohold/cli"
import { binPath, runCli } from "./helpers.js"

const allPaths = (node: HelpNode, above: ReadonlyArray<string> = []): Array<{ path: Array<string>; node: HelpNode }> => {
  const path = above.length === 0 ? [] : [...above]
  return [{ path, node }, ...node.children.flatMap((child) => allPaths(child, [...path, child.name]))]
}

const boilerplate = /user-defined piece of text|This setting is optional|may be repeated zero|A true or false value|An integer\./

/** Runs the CLI on a pseudo-terminal (util-linux `script`), with `env` added. */
const onTerminal = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    const command = [process.execPath, binPath, ...args].map((a) => `'${a}'`).join(" ")
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TERM: "xterm", ...env },
      stdio: ["ignore", "pipe", "ignore"]
    })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    child.on("error", reject)
    child.on("close", () => resolve(out))
  })

describe("--help", () => {
  it("the help tree lists every command", () => {
    const commands = [...HashMap.keys(Command.getSubcommands(cargohold))].sort()
    expect(helpTree.children.map((child) => child.name).sort()).toEqual(commands)
  })

  it("every option and argument of every command has its own description", () => {
    for (const { path, node } of allPaths(helpTree)) {
      for (const [term, description] of described(node)) {
        expect(description, `${["cargohold", ...path].join(" ")} ${term}`).not.toBe("")
        expect(description).not.toMatch(boilerplate)
      }
    }
  })

  it("each page: usage says cargohold …, no boilerplate, no colour and at most 80 columns when piped", async () => {
    for (const { path } of allPaths(helpTree)) {
      const result = await runCli([...path, "--help"])
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(new RegExp(`^Usage: ${["cargohold", ...path].join(" ")}( |$)`, "m"))
      expect(result.stdout).not.toMatch(boilerplate)
      expect(result.stdout).not.toContain("\x1b")
      expect(result.stdout).not.toMatch(/^\$ /m)
      for (const line of result.stdout.split("\n")) expect(line.length, line).toBeLessThanOrEqual(80)
      expect(result.stdout + result.stderr).not.toContain("internal error")
    }
  }, 120_000)

  it("fetch's page: every flag, exit codes and manifest formats", async () => {
    const { stdout } = await runCli(["fetch", "-h"])
    for (const flag of ["-i, --input FILE", "--sha256 HEX", "--digest ALG:HEX", "--mirror URL", "--json", "--header", "--home DIR"]) {
      expect(stdout).toContain(flag)
    }
    expect(stdout).toMatch(/^Exit codes:\n {2}0 +success\n {2}1 +one or more artifacts failed.*\n {2}2 +usage/m)
    expect(stdout).toMatch(/Manifests.*\n {2}lines +URL \[ALG:HEX\]/)
    expect(stdout).toContain("Metalink 4")
    // a bare `cargohold` is the root page
    const bare = await runCli([])
    expect(bare.code).toBe(0)
    expect(bare.stdout).toMatch(/^Usage: cargohold COMMAND/)
    expect(bare.stdout).toMatch(/^ {2}fetch +download, verify, store and catalog artifacts$/m)
  })

  it("on a terminal: colour, unless NO_COLOR is set", async () => {
    expect(await onTerminal(["fetch", "--help"])).toContain("\x1b[1m")
    const plain = await onTerminal(["fetch", "--help"], { NO_COLOR: "1" })
    expect(plain).toContain("Usage: cargohold fetch")
    expect(plain).not.toContain("\x1b[")
  })
})
