#!/usr/bin/env node
/**
 * Generates the demo's sample set: COUNT files of assorted sizes (mostly small, some hundreds of KiB, a few
 * multi-MB) under DIR/files, and DIR/manifest.template: one line `{BASE}/files/NAME sha256:HEX SIZE` per file.
 *
 *     node scripts/demo-samples.mjs DIR [COUNT]
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const [dir, countArg] = process.argv.slice(2)
if (dir === undefined) {
  console.error("usage: demo-samples.mjs DIR [COUNT]")
  process.exit(2)
}
const count = Number(countArg ?? 300)
const KiB = 1024
const MiB = 1024 * KiB

/** Mostly small files, like packages and metadata; one in ten medium; four large ones. */
const sizeOf = (i) => {
  if (i < 4) return [3 * MiB, 5 * MiB, 8 * MiB, 12 * MiB][i]
  if (i % 10 === 0) return 200 * KiB + Math.floor(Math.random() * 800 * KiB)
  return 512 + Math.floor(Math.random() * 64 * KiB)
}

const kinds = ["rpm", "deb", "whl", "tar.gz", "json"]
mkdirSync(join(dir, "files"), { recursive: true })
const lines = []
let total = 0
for (let i = 0; i < count; i++) {
  const size = sizeOf(i)
  const name = i < 4 ? `large-${i + 1}.iso` : `pkg-${String(i).padStart(4, "0")}.${kinds[i % kinds.length]}`
  const body = randomBytes(size)
  writeFileSync(join(dir, "files", name), body)
  lines.push(`{BASE}/files/${name} sha256:${createHash("sha256").update(body).digest("hex")} ${size}`)
  total += size
}
writeFileSync(join(dir, "manifest.template"), `# cargohold demo sample set: ${count} files\n${lines.join("\n")}\n`)
console.log(`${count} files, ${(total / MiB).toFixed(1)} MiB`)
