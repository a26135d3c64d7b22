#!/usr/bin/env node
/**
 * Exit 0 when node_modules already holds exactly what package-lock.json asks for, judged by npm's own record of
 * what it installed (node_modules/.package-lock.json, the "hidden lockfile"): every package npm installed is the
 * locked one, and every locked package it did not install is optional (another platform's binary). Exit 1
 * otherwise (no node_modules, a changed lockfile, an interrupted install): then `npm ci` is needed.
 */
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const read = (path) => {
  try {
    return JSON.parse(readFileSync(join(root, path), "utf8"))
  } catch {
    return undefined
  }
}
const locked = read("package-lock.json")?.packages
const installed = read("node_modules/.package-lock.json")?.packages
const problem = (() => {
  if (locked === undefined) return "no package-lock.json"
  if (installed === undefined) return "nothing installed yet"
  for (const [path, entry] of Object.entries(installed)) {
    if (JSON.stringify(locked[path]) !== JSON.stringify(entry)) return `${path} differs from the lockfile`
  }
  for (const [path, entry] of Object.entries(locked)) {
    if (path !== "" && !(path in installed) && entry.optional !== true && entry.devOptional !== true) return `${path} is not installed`
  }
  return undefined
})()
if (problem !== undefined) {
  console.error(`node_modules does not match package-lock.json (${problem})`)
  process.exit(1)
}
