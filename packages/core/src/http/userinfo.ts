/**
 * Credentials written into a URL (`http://user:password@host/x`): used as Basic auth for that URL's own origin
 * only, as curl does, and never kept in the URL. Every URL cargohold stores, prints, logs or puts into an error is
 * the one without its user-info part; the secret itself lives only in a `Redacted` value until the request to that
 * origin is sent.
 */
import { Redacted } from "effect"

const base64 = (text: string): string => {
  const bytes = new TextEncoder().encode(text)
  let binary = ""
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/** The `Authorization` value of Basic auth; unwrap it only right before sending. */
export const basicAuthorization = (username: string, password: string): Redacted.Redacted<string> =>
  Redacted.make(`Basic ${base64(`${username}:${password}`)}`)

const decode = (part: string): string => {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

/** `scheme://userinfo@` at the start of a string that may not parse as a URL. */
const userinfoPrefix = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/

/**
 * `raw` without its user-info part, for messages and records: parsed when it parses, else cut by pattern (a
 * malformed URL still must not carry its password into an error message). `query: "drop"` also removes the query,
 * for URLs whose query may carry keys or signatures (store and endpoint URLs).
 */
export const redactUrl = (raw: string | URL, options?: { readonly query?: "keep" | "drop" }): string => {
  const dropQuery = options?.query === "drop"
  const text = String(raw)
  if (!text.includes("@") && !(dropQuery && text.includes("?"))) return text
  try {
    const url = new URL(text)
    url.username = ""
    url.password = ""
    if (dropQuery) url.search = ""
    return url.href
  } catch {
    const cut = text.replace(userinfoPrefix, "$1")
    return dropQuery ? cut.replace(/\?.*$/s, "") : cut
  }
}

/** Every `scheme://user:password@` in a free text (a driver's error message, say) with the password replaced. */
export const redactUrlsInText = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/gi, "$1:<redacted>@")

/** Takes the user-info out of `url` (in place) and returns it as Basic auth, or undefined when it had none. */
export const takeUserinfo = (url: URL): Redacted.Redacted<string> | undefined => {
  if (url.username === "" && url.password === "") return undefined
  const authorization = basicAuthorization(decode(url.username), decode(url.password))
  url.username = ""
  url.password = ""
  return authorization
}
