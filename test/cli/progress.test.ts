/**
 * The terminal renderer in-process: emitting only aggregates (nothing is written until a tick); a TTY gets a live
 * frame that is erased at close with the cursor restored; elsewhere plain lines and a summary.
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { makeRenderer } from "@cargohold/cli"

const sha = "a".repeat(64)

const target = (isTTY: boolean) => {
  const writes: Array<string> = []
  return { writes, target: { isTTY, columns: 100, write: (text: string) => void writes.push(text) } }
}

describe("progress renderer", () => {
  it("off a TTY: nothing written on emit; a line per finished artifact, a line for long downloads, a summary", () => {
    let now = 0
    const { writes, target: t } = target(false)
    const renderer = makeRenderer({ target: t, now: () => now, plainEveryMs: 5_000 })
    const emit = (event: Parameters<typeof renderer.progress.emit>[0]) => Effect.runSync(renderer.progress.emit(event))
    emit({ _tag: "Queued", id: 1, url: "http://h/big.iso" })
    emit({ _tag: "Started", id: 1, url: "http://h/big.iso", size: 1000 })
    emit({ _tag: "Queued", id: 2, url: "http://h/bad.rpm" })
    emit({ _tag: "Started", id: 2, url: "http://h/bad.rpm" })
    emit({ _tag: "Bytes", id: 1, url: "http://h/big.iso", received: 400, size: 1000 })
    emit({ _tag: "Failed", id: 2, url: "http://h/bad.rpm", error: { _tag: "HttpStatusError", message: "http://h/bad.rpm answered HTTP 404" } })
    expect(writes).toEqual([])
    expect(renderer.tally.bytes).toBe(400)
    now = 6_000
    renderer.tick()
    expect(writes.join("")).toContain("failed  http://h/bad.rpm: HttpStatusError")
    expect(writes.join("")).toContain("big.iso")
    emit({ _tag: "Done", id: 1, url: "http://h/big.iso", sha256: sha, size: 1000, cached: false })
    renderer.close()
    const all = writes.join("")
    expect(all).toContain(`fetched ${sha}`)
    expect(all).toMatch(/2 artifacts: 1 ok, 1 failed; 1000 B in .*failures: HttpStatusError ×1/)
    expect(all).not.toContain("\x1b[")
  })

  it("on a TTY: a live frame, redrawn only on change, erased at close, cursor shown again", () => {
    let now = 0
    const { writes, target: t } = target(true)
    const renderer = makeRenderer({ target: t, now: () => now })
    Effect.runSync(renderer.progress.emit({ _tag: "Queued", id: 7, url: "http://h/x.bin" }))
    Effect.runSync(renderer.progress.emit({ _tag: "Started", id: 7, url: "http://h/x.bin", size: 2048 }))
    Effect.runSync(renderer.progress.emit({ _tag: "Bytes", id: 7, url: "http://h/x.bin", received: 1024, size: 2048 }))
    now = 100
    renderer.tick()
    const frames = writes.length
    expect(writes.join("")).toContain("0/1 files")
    expect(writes.join("")).toContain("x.bin  1.0 KiB / 2.0 KiB 50%")
    now = 200
    renderer.tick()
    expect(writes.length).toBe(frames)
    Effect.runSync(renderer.progress.emit({ _tag: "Done", id: 7, url: "http://h/x.bin", sha256: sha, size: 2048, cached: false }))
    renderer.close()
    const last = writes.slice(frames).join("")
    expect(last).toContain("\x1b[J")
    expect(last).toContain("1 artifact: 1 ok")
    expect(last.endsWith("\x1b[?25h")).toBe(true)
  })
})
