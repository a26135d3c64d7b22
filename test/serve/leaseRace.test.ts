/**
 * Fetch leases taken over by several processes at once: 40 leases whose owner is dead (a pid that exited), each
 * claimed by eight processes released at the same instant, are each owned by exactly one of them; the others see
 * them held. Real processes, because a lease's owner is a process (pid and start time). The single taker is chosen
 * by link(2) (see packages/node/src/serve/lease.ts); the window of the former unlink-then-create takeover (a taker
 * removing the fresh lease of another) is too narrow to hit reliably here, so this holds the property, not the bug.
 */
import { processTempOwners } from "@cargohold/node"
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { repoRoot, tempDir } from "../cli/helpers.js"

const work = tempDir("cargohold-lease-race-")
afterAll(() => work.remove())

const leaseModule = pathToFileURL(join(repoRoot, "packages/node/dist/serve/lease.js")).href
/**
 * Opens the leases and says "ready"; from the instant (epoch ms) the first stdin line names, claims lease k of
 * `count` at that instant + k × `gapMs`, printing "k tag" each time; releases its owned leases when stdin ends.
 */
const claimer = `
import { Effect } from "effect"
import { createInterface } from "node:readline"
import { makeFileLeases } from ${JSON.stringify(leaseModule)}
const [dir, count, gapMs] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
  const leases = yield* makeFileLeases(dir)
  console.log("ready")
  const start = Number((yield* Effect.promise(() => lines.next())).value)
  const owned = []
  for (let k = 0; k < Number(count); k++) {
    const go = start + k * Number(gapMs)
    // sleep until just before go, then spin: the claims start within a fraction of a millisecond of each other
    yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, go - Date.now() - 5)))
    while (Date.now() < go) {}
    const claim = yield* leases.claim(String(k).padStart(64, "0"))
    console.log(k + " " + claim._tag)
    if (claim._tag === "Owned") owned.push(claim)
  }
  yield* Effect.promise(() => lines.next())
  for (const claim of owned) yield* claim.release
})))
`

/** A lease file naming a process of this machine that has exited: the pid is gone. */
const deadOwner = (): string => {
  const exited = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
  const name = processTempOwners.name()
  // <scope>-<pid>-<start>-<uuid>.<ext>: this machine's scope, the exited pid
  return name.replace(/^([0-9a-f]{8})-\d+-/, `$1-${exited.stdout}-`)
}

interface Claimer {
  readonly ready: Promise<void>
  /** "k tag" per lease, in order. */
  readonly tags: Promise<ReadonlyArray<string>>
  readonly go: (at: number) => void
  readonly finish: () => Promise<void>
}

const startClaimer = (dir: string, count: number, gapMs: number): Claimer => {
  const child = spawn(process.execPath, ["--input-type=module", "-e", claimer, "--", dir, String(count), String(gapMs)], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "inherit"]
  })
  let printed = ""
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    printed += chunk
  })
  const until = async (done: () => boolean) => {
    while (!done()) {
      if (child.exitCode !== null) throw new Error(`claimer exited ${child.exitCode}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const lines = () => printed.split("\n").filter((line) => line !== "")
  return {
    ready: until(() => lines().length >= 1),
    tags: until(() => lines().length >= count + 1).then(() => lines().slice(1)),
    go: (at) => child.stdin.write(`${at}\n`),
    finish: async () => {
      child.stdin.end()
      expect(await closed).toBe(0)
    }
  }
}

describe("fetch leases taken over at once", () => {
  it("a dead owner's lease claimed by 8 processes at the same instant has exactly one new owner (40 leases)", async () => {
    const dir = join(work.path, "leases")
    mkdirSync(dir, { recursive: true })
    const count = 40
    for (let k = 0; k < count; k++) writeFileSync(join(dir, `${String(k).padStart(64, "0")}.lease`), deadOwner())
    const claimers = Array.from({ length: 8 }, () => startClaimer(dir, count, 40))
    await Promise.all(claimers.map((c) => c.ready))
    const at = Date.now() + 300
    for (const c of claimers) c.go(at)
    const tags = (await Promise.all(claimers.map((c) => c.tags))).flat()
    await Promise.all(claimers.map((c) => c.finish()))
    const owners = Array.from({ length: count }, (_, k) => tags.filter((line) => line === `${k} Owned`).length)
    expect(owners.filter((n) => n !== 1).length, `owners per lease: ${owners.join(" ")}`).toBe(0)
    expect(tags.filter((line) => line.endsWith(" Held"))).toHaveLength(count * 7)
  }, 120_000)
})
