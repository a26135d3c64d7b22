/**
 * The CLI's Progress renderer. `emit` only updates the tally (synchronously, a few field writes); a timer draws.
 * On a TTY: a live frame redrawn at most every `frameMs`, erased at close. Elsewhere: one line per finished
 * artifact and, every `plainEveryMs`, a line for each download running longer than that.
 */
import { fromCallback, type ProgressService } from "@cargohold/core"
import { RateMeter } from "@cargohold/core/internal/progress/rate"
import { finishedLine, liveFrame, longRunningLine, summaryLine } from "./frame.js"
import { Tally } from "./tally.js"

/** Where the renderer writes (stderr in the CLI). */
export interface RenderTarget {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

export interface RendererOptions {
  readonly target: RenderTarget
  /** Live display (defaults to `target.isTTY`). */
  readonly live?: boolean
  /** Write a line per finished artifact (off TTY) or per failure (on a TTY). Default true. */
  readonly eachArtifact?: boolean
  /** Write the summary at close when anything was processed. Default true. */
  readonly summary?: boolean
  /** The stream `printAbove` writes to is on the same terminal (the frame is erased before it writes). */
  readonly sharesTerminal?: boolean
  readonly frameMs?: number
  readonly plainEveryMs?: number
  readonly now?: () => number
}

export interface Renderer {
  readonly progress: ProgressService
  readonly tally: Tally
  /** Draws now if anything changed (the timer calls this). */
  readonly tick: () => void
  /** Stops drawing, erases the live frame, writes pending lines and the summary. Idempotent. */
  readonly close: () => void
  /**
   * Runs `write` (which writes whole lines to another stream on the same terminal, e.g. results on stdout) with
   * the live frame erased first, so the two do not tear each other; the frame is redrawn at the next tick.
   */
  readonly printAbove: (write: () => void) => void
}

const hideCursor = "\x1b[?25l"
const showCursor = "\x1b[?25h"
const eraseDown = "\x1b[J"
const up = (lines: number) => (lines > 0 ? `\x1b[${lines}A\r` : "\r")

export const makeRenderer = (options: RendererOptions): Renderer => {
  const { target } = options
  const live = options.live ?? target.isTTY === true
  const eachArtifact = options.eachArtifact ?? true
  const now = options.now ?? Date.now
  const plainEveryMs = options.plainEveryMs ?? 5_000
  const pending: Array<string> = []
  const meter = new RateMeter()
  let drawnLines = 0
  let drawnVersion = -1
  let lastPlainCheck = now()
  let closed = false
  let cursorHidden = false

  const tally = new Tally(now, (finished) => {
    if (eachArtifact && (!live || !finished.ok)) pending.push(finishedLine(finished))
  })

  const restoreCursor = () => {
    if (cursorHidden) target.write(showCursor)
    cursorHidden = false
  }

  const drawLive = (at: number) => {
    const rate = meter.sample(at, tally.bytes)
    if (tally.version === drawnVersion && pending.length === 0) return
    drawnVersion = tally.version
    let out = drawnLines > 0 ? up(drawnLines - 1) + eraseDown : ""
    if (!cursorHidden) {
      out = hideCursor + out
      cursorHidden = true
    }
    for (const line of pending.splice(0)) out += `${line}\n`
    const frame = liveFrame(tally, rate, at, target.columns ?? 80)
    out += frame.join("\n")
    drawnLines = frame.length
    target.write(out)
  }

  const drawPlain = (at: number) => {
    meter.sample(at, tally.bytes)
    let out = pending.length > 0 ? `${pending.splice(0).join("\n")}\n` : ""
    if (at - lastPlainCheck >= plainEveryMs) {
      lastPlainCheck = at
      for (const download of tally.active.values()) {
        if (at - download.reportedAt >= plainEveryMs) {
          download.reportedAt = at
          out += `${longRunningLine(download, at)}\n`
        }
      }
    }
    if (out !== "") target.write(out)
  }

  const tick = () => {
    if (closed) return
    const at = now()
    if (live) drawLive(at)
    else drawPlain(at)
  }

  const close = () => {
    if (closed) return
    closed = true
    let out = live && drawnLines > 0 ? up(drawnLines - 1) + eraseDown : ""
    for (const line of pending.splice(0)) out += `${line}\n`
    if ((options.summary ?? true) && tally.finished > 0) out += `${summaryLine(tally, now())}\n`
    if (out !== "") target.write(out)
    drawnLines = 0
    restoreCursor()
  }

  const printAbove = (write: () => void) => {
    if (live && (options.sharesTerminal ?? true) && drawnLines > 0 && !closed) {
      target.write(up(drawnLines - 1) + eraseDown)
      drawnLines = 0
      drawnVersion = -1
    }
    write()
  }

  return { progress: fromCallback((event) => tally.apply(event)), tally, tick, close, printAbove }
}
