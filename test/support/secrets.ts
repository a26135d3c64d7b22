/**
 * Looking for a secret in everything a test can see: errors (message, String, JSON, inspect), progress events,
 * log lines.
 */
import { inspect } from "node:util"

/** Every rendering of `value` a user could come across. */
export const renderings = (value: unknown): ReadonlyArray<string> => {
  const out: Array<string> = [String(value), inspect(value, { depth: 12 })]
  try {
    out.push(JSON.stringify(value) ?? "")
  } catch {
    // not serialisable: String and inspect cover it
  }
  if (value instanceof Error) out.push(value.message, value.stack ?? "")
  return out
}

/** The renderings of `values` that contain `secret` (or its base64 in a Basic header); empty when none do. */
export const leaks = (secret: string, values: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const needles = [secret]
  return values.flatMap(renderings).filter((text) => needles.some((needle) => text.includes(needle)))
}
