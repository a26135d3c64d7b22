/**
 * Deterministic corpora: every file's bytes come from AES-256-CTR over zeros, keyed by the corpus name and the
 * file index, so two runs (and two machines) serve identical bytes and every file has a distinct digest.
 */
import { createCipheriv, createHash } from "node:crypto"
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"

export interface CorpusSpec {
  /** Directory name under the corpus root, also the first URL path segment. */
  readonly name: string
  readonly count: number
  readonly size: number
}

export interface CorpusEntry {
  /** Path relative to the corpus root, also the URL path (without the leading slash). */
  readonly path: string
  readonly sha256: string
  readonly size: number
}

export interface Corpus {
  readonly spec: CorpusSpec
  readonly entries: ReadonlyArray<CorpusEntry>
}

const key = createHash("sha256").update("cargohold-bench-corpus").digest()
const block = 1024 * 1024
const filesPerDir = 1000

const ivFor = (name: string, index: number): Buffer => {
  const iv = createHash("sha256").update(`${name}/${index}`).digest().subarray(0, 16)
  iv.writeUInt32BE(0, 12) // leave room for the counter
  return iv
}

const relativePath = (name: string, index: number): string => {
  const digits = String(index).padStart(6, "0")
  return `${name}/d${digits.slice(0, 3)}/f${digits}.bin`
}

/** Writes one file of `size` deterministic bytes; returns its sha256. */
const writeFile = (root: string, name: string, index: number, size: number): CorpusEntry => {
  const path = relativePath(name, index)
  const cipher = createCipheriv("aes-256-ctr", key, ivFor(name, index))
  const hash = createHash("sha256")
  const fd = openSync(join(root, path), "w")
  try {
    const zeros = Buffer.alloc(Math.min(block, size))
    for (let left = size; left > 0; left -= block) {
      const bytes = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left))
      hash.update(bytes)
      writeSync(fd, bytes)
    }
  } finally {
    closeSync(fd)
  }
  return { path, sha256: hash.digest("hex"), size }
}

const manifestName = (spec: CorpusSpec) => `${spec.name}.manifest.tsv`
const stamp = (spec: CorpusSpec) => `# corpus ${spec.name} count=${spec.count} size=${spec.size} v1`

const parseManifest = (spec: CorpusSpec, text: string): Corpus | undefined => {
  const lines = text.split("\n").filter((line) => line.length > 0)
  if (lines[0] !== stamp(spec)) return undefined
  const entries = lines.slice(1).map((line): CorpusEntry => {
    const [path = "", sha256 = "", size = "0"] = line.split("\t")
    return { path, sha256, size: Number(size) }
  })
  return entries.length === spec.count ? { spec, entries } : undefined
}

/** Loads a corpus from `root`, generating it first when missing or stale. */
export const ensureCorpus = (root: string, spec: CorpusSpec, log: (line: string) => void): Corpus => {
  const manifest = join(root, manifestName(spec))
  if (existsSync(manifest)) {
    const corpus = parseManifest(spec, readFileSync(manifest, "utf8"))
    if (corpus !== undefined) return corpus
  }
  log(`generating corpus ${spec.name}: ${spec.count} × ${spec.size} bytes`)
  rmSync(join(root, spec.name), { recursive: true, force: true })
  const entries: Array<CorpusEntry> = []
  for (let index = 0; index < spec.count; index++) {
    if (index % filesPerDir === 0) mkdirSync(join(root, spec.name, `d${String(index).padStart(6, "0").slice(0, 3)}`), { recursive: true })
    entries.push(writeFile(root, spec.name, index, spec.size))
  }
  const body = entries.map((e) => `${e.path}\t${e.sha256}\t${e.size}`).join("\n")
  writeFileSync(manifest, `${stamp(spec)}\n${body}\n`)
  return { spec, entries }
}

/** The first `count` entries, as a corpus of its own (same files, same URLs). */
export const prefix = (corpus: Corpus, count: number): Corpus => ({
  spec: { ...corpus.spec, count },
  entries: corpus.entries.slice(0, count)
})
