/**
 * Directory listings: a plain HTML index of a folder's immediate children (files, then folders), escaped.
 */
import type { ContentUnit } from "../repository/schema.js"
import { encodePath } from "./route.js"

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"))

export interface ListingEntry {
  readonly name: string
  readonly folder: boolean
  readonly size?: number | undefined
}

/** The children of `folder` ("" for the root) among units under it. */
export const childrenOf = (folder: string, units: ReadonlyArray<ContentUnit>): ReadonlyArray<ListingEntry> => {
  const prefix = folder === "" ? "" : `${folder}/`
  const files: Array<ListingEntry> = []
  const folders = new Set<string>()
  for (const unit of units) {
    if (!unit.path.startsWith(prefix)) continue
    const rest = unit.path.slice(prefix.length)
    const slash = rest.indexOf("/")
    if (slash === -1) files.push({ name: rest, folder: false, size: unit.size })
    else folders.add(rest.slice(0, slash))
  }
  return [...[...folders].sort().map((name) => ({ name, folder: true })), ...files.sort((a, b) => (a.name < b.name ? -1 : 1))]
}

/** An HTML page listing `entries` under the title `title`, links relative to the page. */
export const listingHtml = (title: string, entries: ReadonlyArray<ListingEntry>, parent: boolean): string => {
  const rows = entries.map((e) => {
    const href = encodePath(e.name) + (e.folder ? "/" : "")
    const label = escapeHtml(e.name + (e.folder ? "/" : ""))
    return `<a href="${escapeHtml(href)}">${label}</a>${e.size === undefined ? "" : ` ${e.size}`}`
  })
  const up = parent ? ['<a href="../">../</a>'] : []
  const heading = escapeHtml(title)
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ${heading}</title></head>\n<body><h1>Index of ${heading}</h1><pre>\n${[...up, ...rows].join("\n")}\n</pre></body></html>\n`
}
