/**
 * Redirect policy: how many hops, which are refused, which headers survive a change of origin.
 */
import { RedirectError } from "../domain/errors.js"

export const maxRedirects = 10
export const redirectStatuses = new Set([301, 302, 303, 307, 308])

/** Headers that must not follow a redirect to another origin. */
export const credentialHeaders = ["authorization", "cookie", "proxy-authorization"] as const

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
