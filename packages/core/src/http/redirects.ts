/**
 * Redirect policy: how many hops, which are refused, which headers survive a change of origin (an allow-list).
 */
import { RedirectError } from "../domain/errors.js"

export const maxRedirects = 10
export const redirectStatuses = new Set([301, 302, 303, 307, 308])

/** Credential headers: never sent to an origin they were not given for (a subset of what `headersForOrigin` drops). */
export const credentialHeaders = ["authorization", "cookie", "proxy-authorization"] as const

/**
 * The only request headers that follow a redirect to another origin: ones that describe what the client accepts
 * and which bytes it asks for, never who it is. Anything else a remote or request adds (`X-Api-Key`,
 * `Private-Token`, `Authorization`, a custom `X-Auth-*`…) may be a credential, and stays with its origin — an
 * allow-list, because a deny-list cannot know every vendor's token header.
 */
export const crossOriginHeaders: ReadonlySet<string> = new Set([
  "user-agent",
  "accept",
  "accept-encoding",
  "accept-language",
  "range",
  "if-range"
])

/** The headers to send to a hop: all of them at the origin they were given for, else only `crossOriginHeaders`. */
export const headersForOrigin = (
  headers: Readonly<Record<string, string>>,
  sameOrigin: boolean
): Readonly<Record<string, string>> => {
  if (sameOrigin) return headers
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (crossOriginHeaders.has(name.toLowerCase())) kept[name] = value
  }
  return kept
}

/** Resolves and checks the next hop; returns the next URL or the error that ends the chain. */
export const nextHop = (
  from: string,
  location: string | undefined,
  visited: ReadonlySet<string>,
  options: { readonly allowHttpsToHttp: boolean }
): URL | RedirectError => {
  if (location === undefined || location === "") {
    return new RedirectError({ url: from, reason: "redirect without a Location header" })
  }
  let next: URL
  try {
    next = new URL(location, from)
  } catch {
    return new RedirectError({ url: from, location, reason: "Location is not a valid URL" })
  }
  // credentials a server writes into a Location are neither used nor kept (they would be printed and stored)
  next.username = ""
  next.password = ""
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    return new RedirectError({ url: from, location: next.href, reason: `redirect to unsupported scheme ${next.protocol}` })
  }
  if (new URL(from).protocol === "https:" && next.protocol === "http:" && !options.allowHttpsToHttp) {
    return new RedirectError({ url: from, location: next.href, reason: "https to http downgrade refused" })
  }
  if (visited.has(next.href)) return new RedirectError({ url: from, location: next.href, reason: "redirect loop" })
  if (visited.size > maxRedirects) {
    return new RedirectError({ url: from, location: next.href, reason: `more than ${maxRedirects} redirects` })
  }
  return next
}
