/**
 * Manifest and remote problems read as one sentence naming the field and the fix — no Schema formatter trees
 * (`Struct (Type side) └─ …`), no per-member union noise (`Expected undefined, actual -5`).
 */
import { describe, expect, it } from "vitest"
import { Effect, Either } from "effect"
import { parseManifest, Remote } from "@cargohold/core"
import { describeParseError } from "@cargohold/core"
import { ParseResult } from "effect"

const problems = (text: string, format: "lines" | "jsonl" | "metalink") => {
  const result = Effect.runSync(Effect.either(parseManifest(text, format)))
  if (Either.isRight(result)) throw new Error("expected a ManifestError")
  return result.left.problems.map((p) => `line ${p.line}: ${p.message}`)
}

const schemaNoise = /Expected undefined|Type side|└─|is unexpected|Predicate refinement|actual/

describe("problem messages", () => {
  it("JSON Lines: one sentence per problem, naming the field", () => {
    const lines = [
      { url: "http://a.test/1", size: -5 },
      { urls: [] },
      { url: "http://a.test/3", sha265: "ab" },
      { url: 5 },
      { url: "http://a.test/5", mirrors: [{ url: "" }], priority: "high" },
      { url: "http://a.test/6", size: 1.5 },
      [1]
    ]
    const found = problems(lines.map((l) => JSON.stringify(l)).join("\n"), "jsonl")
    expect(found).toEqual([
      "line 1: size must be a non-negative integer (got -5)",
      "line 2: urls must not be empty",
      "line 3: sha265 is not a known field (known: url, urls, sha256, digests, size, priority, mirrors)",
      "line 4: url must be a string (got 5)",
      'line 5: priority must be a number (got "high")',
      "line 5: mirrors[0].url must not be empty",
      "line 6: size must be a non-negative integer (got 1.5)",
      "line 7: the line must be an object (got [1])"
    ])
    for (const line of found) expect(line).not.toMatch(schemaNoise)
  })

  it("plain lines and Metalink say what a size or digest must be", () => {
    expect(problems("http://a.test/1 -5\nhttp://a.test/2 sha256:zz\n", "lines")).toEqual([
      "line 1: size must be a non-negative integer (got -5)",
      "line 2: 'sha256:zz': a digest is ALG:HEX, with hexadecimal digits (e.g. sha256:9f86…)"
    ])
    const meta = `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="a"><size>-5</size><url>http://a.test/a</url></file>
  <file name="b"><size>abc</size><url>http://a.test/b</url></file>
</metalink>`
    expect(problems(meta, "metalink")).toEqual([
      'line 3: file a: <size> must be a non-negative integer (got "-5")',
      'line 4: file b: <size> must be a non-negative integer (got "abc")'
    ])
  })

  it("a remote's bad name", () => {
    let message = ""
    try {
      new Remote({ name: "bad name", url: "http://a.test/", headers: {} })
    } catch (error) {
      if (!ParseResult.isParseError(error)) throw error
      message = describeParseError(error)
    }
    expect(message).toBe(`name must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (got "bad name")`)
  })
})
