/**
 * Turns a `Tally` into text: the live frame drawn on a TTY, the plain lines written elsewhere, and the summary.
 */
import { timeLeftMs } from "@cargohold/core/internal/progress/rate"
import { fit, formatBytes, formatDuration, formatRate, shortName } from "./format.js"
import type { ActiveDownload, FinishedDownload, Tally } from "./tally.js"

const barWidth = 24
const maxActiveLines = 6

const bar = (fraction: number): string => {
  const filled = Math.max(0, Math.min(barWidth, Math.round(fraction * barWidth)))
  return `[${"#".repeat(filled)}${".".repeat(barWidth - filled)}]`
}

/** Seconds left: known remaining bytes, plus not-yet-started artifacts at the mean size fetched so far. */
export const etaMs = (tally: Tally, rate: number): number | undefined => {
  if (rate <= 0) return undefined
  const known = tally.remainingKnown()
  if (known === undefined) return undefined
  const notStarted = Math.max(0, tally.queued - tally.finished - tally.active.size)
  const fetched = tally.done - tally.cached
  const mean = fetched > 0 ? tally.finishedBytes / fetched : 0
  if (notStarted > 0 && mean === 0) return undefined
  return timeLeftMs(known + notStarted * mean, rate)
}

const activeLine = (download: ActiveDownload, now: number): string => {
  const elapsed = Math.max(1, now - download.startedAt)
  const rate = (download.received * 1000) / elapsed
  const of = download.size !== undefined ? ` / ${formatBytes(download.size)}` : ""
  const percent =
    download.size !== undefined && download.size > 0 ? ` ${Math.floor((download.received / download.size) * 100)}%` : ""
  const attempt = download.attempt > 1 ? ` (attempt ${download.attempt})` : ""
  return `  ${shortName(download.url)}  ${formatBytes(download.received)}${of}${percent}  ${formatRate(rate)}${attempt}`
}

/** The overall status line. */
export const statusLine = (tally: Tally, rate: number): string => {
  const batch = tally.batch
  const total = Math.max(batch?.total ?? tally.queued, tally.finished)
  const expected = batch?.bytesExpected
  // bytes already stored count as done (an all-cached run ends full); without a byte total, the running
  // downloads count by how far each is (one download of unknown size at 96% is not an empty bar)
  const doneBytes = tally.bytes + tally.cachedBytes
  const fraction =
    expected !== undefined && expected > 0
      ? Math.min(1, doneBytes / expected)
      : total > 0
        ? Math.min(1, (tally.finished + tally.activeFraction()) / total)
        : 0
  const eta = expected !== undefined && rate > 0 ? timeLeftMs(expected - doneBytes, rate) : (batch?.etaMs ?? etaMs(tally, rate))
  const parts = [
    `${bar(fraction)} ${tally.finished}/${total} files`,
    expected !== undefined ? `${formatBytes(doneBytes)} / ${formatBytes(expected)}` : formatBytes(doneBytes),
    formatRate(rate),
    `${tally.active.size} active`
  ]
  if (eta !== undefined && tally.active.size > 0) parts.push(`ETA ${formatDuration(eta)}`)
  if (tally.failed > 0) parts.push(`${tally.failed} failed`)
  const throttled = tally.throttled.size
  if (throttled > 0) parts.push(`${throttled} host${throttled === 1 ? "" : "s"} backing off`)
  return parts.join(" · ")
}

/** The live frame: the status line and the largest active downloads. */
export const liveFrame = (tally: Tally, rate: number, now: number, columns: number): Array<string> => {
  const lines = [fit(statusLine(tally, rate), columns)]
  const active = [...tally.active.values()]
  active.sort((a, b) => (b.size ?? b.received) - (a.size ?? a.received))
  for (const download of active.slice(0, maxActiveLines)) lines.push(fit(activeLine(download, now), columns))
  if (active.length > maxActiveLines) lines.push(`  … and ${active.length - maxActiveLines} more`)
  return lines
}

/** One line per finished artifact (plain output, and failures on a TTY). */
export const finishedLine = (finished: FinishedDownload): string => {
  if (!finished.ok) return `failed  ${finished.url}: ${finished.error?._tag ?? "Error"}: ${finished.error?.message ?? ""}`
  const state = finished.cached ? "stored " : "fetched"
  return `${state} ${finished.sha256 ?? ""}  ${formatBytes(finished.size ?? 0).padStart(9)}  ${finished.url}`
}

/** Plain-mode line for a download that has been running a while. */
export const longRunningLine = (download: ActiveDownload, now: number): string =>
  `…${activeLine(download, now).trimStart().replace(/^/, " ")} (${formatDuration(now - download.startedAt)})`

/** The closing summary: counts, bytes, time, mean rate, failures grouped by error tag, sources that misbehaved. */
export const summaryLine = (tally: Tally, now: number): string => {
  const elapsed = Math.max(1, now - tally.startedAt)
  const fetched = tally.done - tally.cached
  const counts = [`${tally.done} ok`]
  if (tally.cached > 0) counts.push(`${tally.cached} already stored`, `${fetched} fetched`)
  if (tally.failed > 0) counts.push(`${tally.failed} failed`)
  const mean = formatRate((tally.finishedBytes * 1000) / elapsed)
  const failures = [...tally.failuresByTag.entries()].map(([tag, count]) => `${tag} ×${count}`).join(", ")
  const stopped = tally.batch?.aborted === true && tally.batch.final ? " (stopped early)" : ""
  const head = `${tally.finished} artifact${tally.finished === 1 ? "" : "s"}${stopped}: ${counts.join(", ")}`
  const tail = `${formatBytes(tally.finishedBytes)} in ${formatDuration(elapsed)} (${mean})`
  const mirrors = [...tally.misbehaving.entries()]
    .map(([origin, tags]) => `${origin} (${[...tags.entries()].map(([tag, n]) => `${tag} ×${n}`).join(", ")})`)
    .join("; ")
  const summary = failures === "" ? `${head}; ${tail}` : `${head}; ${tail}; failures: ${failures}`
  return mirrors === "" ? summary : `${summary}\nsources that misbehaved: ${mirrors}`
}
