/**
 * Writing to the terminal: results and JSON on stdout, human messages on stderr.
 */
import { Effect } from "effect"

/** One line on stdout. */
export const printOut = (line: string): Effect.Effect<void> => Effect.sync(() => void process.stdout.write(`${line}\n`))

/** One line on stderr. */
export const printErr = (line: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(`${line}\n`))

/** One JSON object per line on stdout (undefined fields dropped). */
export const printJson = (value: unknown): Effect.Effect<void> => printOut(JSON.stringify(value))

/** Columns padded to their widest cell. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths: Array<number> = []
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  }
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
    .map((line) => line.trimEnd())
    .join("\n")
}
