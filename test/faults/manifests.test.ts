/**
 * Issue 11, garbage and hostile manifests through the built CLI: each exits 2 naming its bad lines, in printable
 * text of a bounded size (a hostile manifest must not flood or drive the terminal), and nothing is fetched —
 * the loopback server that every manifest's good line points at sees no request at all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { forbiddenIn, homeState, serve } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

const work = tempDir("cargohold-faults-manifest-")
const body = bytesOf(2000, 3)
let server: TestServer
let good: string
let goodJson: string

beforeAll(async () => {
  server = await startServer(serve(body))
  good = `${server.url("/good.bin")} sha256:${sha256Hex(body)} ${body.length}`
  goodJson = JSON.stringify({ url: server.url("/good.bin"), sha256: sha256Hex(body), size: body.length })
})
afterAll(async () => {
  await server.close()
  work.remove()
})

interface ManifestCase {
  readonly name: string
  readonly file: string
  readonly content: () => string | Buffer
  /** Line numbers that must be named. */
  readonly lines: ReadonlyArray<number>
  /** How many problems the summary counts (default: lines.length; "some": as many as it says, all named). */
  readonly problems?: number | "some"
  /** The most stderr may hold. */
  readonly maxStderr?: number
}

const mib = 1024 * 1024

const cases: ReadonlyArray<ManifestCase> = [
  {
    name: "binary garbage after a good line",
    file: "garbage.txt",
    // 0x1b (ESC) and friends included: none may reach the terminal raw
    content: () => Buffer.concat([Buffer.from(`${good}\n`), bytesOf(16 * 1024, 99), Buffer.from("\n\x1b[2J\x1b]0;pwned\x07\n")]),
    lines: [2],
    problems: "some",
    maxStderr: 256 * 1024
  },
  {
    name: "a 5 MiB line of junk",
    file: "huge-junk.txt",
    content: () => `${good}\n${"x".repeat(5 * mib)}\n`,
    lines: [2],
    maxStderr: 4096
  },
  {
    name: "a 1 MiB URL",
    file: "huge-url.txt",
    content: () => `${good}\n${server.url(`/${"a".repeat(mib)}`)}\n`,
    lines: [2],
    maxStderr: 4096
  },
  {
    name: "invalid JSON Lines: a broken object, an array, a misspelt key",
    file: "broken.jsonl",
    content: () =>
      [goodJson, '{"url": "http://127.0.0.1/x",', "[1, 2]", JSON.stringify({ url: server.url("/x"), sha265: sha256Hex(body) })].join("\n"),
    lines: [2, 3, 4]
  },
  {
    name: "bad digests: not hex, too short, unknown algorithm, in both formats",
    file: "digests.txt",
    content: () =>
      [good, `${server.url("/a")} sha256:zz`, `${server.url("/b")} sha256:abcd`, `${server.url("/c")} md4:${"0".repeat(32)}`].join("\n"),
    lines: [2, 3, 4]
  },
  {
    name: "bad digests in JSON Lines",
    file: "digests.jsonl",
    content: () =>
      [goodJson, JSON.stringify({ url: server.url("/a"), sha256: "not-hex" }), JSON.stringify({ url: server.url("/b"), digests: { sha512: "00" } })].join("\n"),
    lines: [2, 3]
  },
  {
    name: "negative, fractional and enormous sizes",
    file: "sizes.jsonl",
    content: () =>
      [
        goodJson,
        JSON.stringify({ url: server.url("/a"), size: -5 }),
        JSON.stringify({ url: server.url("/b"), size: 1.5 }),
        `{"url": "${server.url("/c")}", "size": 1e400}`,
        JSON.stringify({ url: server.url("/d"), size: "12" })
      ].join("\n"),
    lines: [2, 3, 4, 5]
  },
  {
    name: "things that are not URLs",
    file: "not-urls.txt",
    content: () => [good, "not-a-url", "ftp://127.0.0.1/x", "javascript:alert(1)", "http://", "//127.0.0.1/x"].join("\n"),
    lines: [2, 3, 4, 5, 6]
  },
  {
    name: "10,000 bad lines: every one named",
    file: "many.txt",
    content: () => [good, ...Array.from({ length: 10_000 }, (_, i) => `bad-url-${i}`)].join("\n"),
    lines: [2, 5001, 10_001],
    problems: 10_000
  }
]

describe("hostile manifests through the CLI", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s: exit 2, lines named, nothing fetched", async (_name, c) => {
    const path = join(work.path, c.file)
    writeFileSync(path, c.content())
    const home = join(work.path, `home-${c.file}`)
    const before = server.stats.requests.length
    const result = await runCli(["fetch", "-i", path, "--home", home])
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    const named = [...result.stderr.matchAll(/^line (\d+): /gm)].map((m) => Number(m[1]))
    const counted = Number(/(\d+) problem\(s\)/.exec(result.stderr)?.[1])
    expect(counted).toBe(c.problems === "some" ? named.length : (c.problems ?? c.lines.length))
    expect(named.length).toBe(counted)
    for (const line of c.lines) expect(named).toContain(line)
    // printable text only: no control character but the line breaks
    const controls = [...result.stderr].filter((c) => c !== "\n" && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    expect(controls).toEqual([])
    if (c.maxStderr !== undefined) expect(result.stderr.length).toBeLessThan(c.maxStderr)
    expect(server.stats.requests.length).toBe(before)
    expect(homeState(home)).toMatchObject({ objects: [], temps: [], artifacts: 0 })
  })
})
