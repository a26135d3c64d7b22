/**
 * One access-log line per request (Combined Log Format, then the duration and how the response ended), written in
 * batches: a line per request through a synchronous stderr write would cost more than serving a small file.
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

/** Lines to `sink`, gathered for at most one turn of the event loop. */
export const makeAccessLog = (sink: (text: string) => void): AccessLog => {
  let pending: Array<string> = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending.length === 0) return
    const text = `${pending.join("\n")}\n`
    pending = []
    sink(text)
  }
  return {
    write: (entry) => {
      pending.push(formatAccess(entry, new Date()))
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush
  }
}
