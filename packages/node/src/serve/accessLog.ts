/**
 * One access-log line per request (Combined Log Format, then the duration and how the response ended), written in
 * batches (`makeAccessLog`): a line per request through a synchronous stderr write would cost a system call each.
 */

/** Control characters and quotes escaped, so a request cannot forge or break log lines. */
const clean = (text: string): string =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to escape them
  text.replace(/[\u0000-\u001f\u007f"\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).slice(0, 2048)

export interface AccessEntry {
  readonly remote: string
  readonly method: string
  readonly target: string
  readonly httpVersion: string
  readonly status: number
  readonly bytes: number
  readonly userAgent: string | undefined
  readonly ms: number
  /** How the response ended: `ok`, or why it did not end cleanly. */
  readonly end: "ok" | "aborted" | "cut"
}

const pad = (n: number) => String(n).padStart(2, "0")
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const clfOf = (d: Date) =>
  `${pad(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
// the timestamp changes once a second: built once per second, not once per request (thousands a second)
let clfSecond = -1
let clfText = ""
const clf = (d: Date) => {
  const second = Math.floor(d.getTime() / 1000)
  if (second !== clfSecond) {
    clfSecond = second
    clfText = clfOf(d)
  }
  return clfText
}

export const formatAccess = (e: AccessEntry, at: Date): string =>
  `${e.remote} - - [${clf(at)}] "${clean(e.method)} ${clean(e.target)} HTTP/${clean(e.httpVersion)}" ${e.status} ${e.bytes} "-" "${clean(e.userAgent ?? "-")}" ${e.ms.toFixed(1)}ms ${e.end}`

export interface AccessLog {
  readonly write: (entry: AccessEntry) => void
  readonly flush: () => void
}

/** PIPE_BUF on Linux: a write up to this size to a pipe is never interleaved with another process's write. */
const atomicBytes = 4096

/**
 * Lines to `sink`, gathered for at most `delayMs` (default 5 ms) and written in pieces of whole lines up to 4 KiB:
 * a few writes a second instead of one per request, and on a pipe the workers of `serve --workers N` share, no
 * piece of one worker's lines lands inside another's (a single line longer than that is written alone). `flush`
 * writes what is gathered at once: at shutdown and process exit nothing is lost.
 */
export const makeAccessLog = (sink: (text: string) => void, options: { readonly delayMs?: number } = {}): AccessLog => {
  const delayMs = options.delayMs ?? 5
  let pending = ""
  let pendingBytes = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const writeOut = () => {
    if (pending === "") return
    const text = pending
    pending = ""
    pendingBytes = 0
    sink(text)
  }
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    writeOut()
  }
  return {
    write: (entry) => {
      const line = `${formatAccess(entry, new Date())}\n`
      const bytes = Buffer.byteLength(line)
      if (pendingBytes + bytes > atomicBytes) writeOut()
      pending += line
      pendingBytes += bytes
      timer ??= setTimeout(flush, delayMs)
    },
    flush
  }
}
