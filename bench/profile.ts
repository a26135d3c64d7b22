/**
 * Summarises a `.cpuprofile` (from `npm run bench -- --cpu-prof`): self time per function and per package.
 * usage: npx tsx bench/profile.ts FILE.cpuprofile [top=25] [FUNCTION-OR-FILE:LINE...]   (DEPTH=n caller frames)
 */
import { readFileSync } from "node:fs"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error("usage: npx tsx bench/profile.ts FILE.cpuprofile [top]")
  process.exit(2)
}
const top = Number(topArg ?? "25")
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

/** Where a frame comes from: a package under node_modules, a workspace package, node internals, or GC/idle. */
const origin = (url: string, name: string): string => {
  if (url === "") return name.startsWith("(") ? name : "(native)"
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm !== null) return nm[1]!
  const ws = /packages\/([^/]+)\//.exec(url)
  if (ws !== null) return `@cargohold/${ws[1]}`
  if (url.startsWith("node:")) return "node internals"
  return url.replace(/^file:\/\//, "")
}

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
const perFunction = new Map<string, number>()
const perOrigin = new Map<string, number>()
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame
  const where = frame.url.replace(/^.*node_modules\//, "").replace(/^.*packages\//, "")
  add(perFunction, `${frame.functionName || "(anonymous)"}  ${where}:${frame.lineNumber + 1}`, us)
  add(perOrigin, origin(frame.url, frame.functionName), us)
}
const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title} (total ${(total / 1e6).toFixed(2)} s sampled)`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
  }
}
print("self time by origin", perOrigin, 15)
print("self time by function", perFunction, top)

/** Callers of the hottest native/runtime frames, so "openFileHandle" can be traced to who opens files. */
const parents = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id)
const label = (id: number) => {
  const f = byId.get(id)!.callFrame
  return `${f.functionName || "(anon)"}@${f.url.replace(/^.*node_modules\//, "").replace(/^.*packages\//, "")}:${f.lineNumber + 1}`
}
const focus = process.argv.slice(4)
const depth = Number(process.env.DEPTH ?? "6")
for (const name of focus) {
  const chains = new Map<string, number>()
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName !== name && !label(id).includes(name)) continue
    const chain: Array<string> = []
    for (let p = parents.get(id); p !== undefined && chain.length < depth; p = parents.get(p)) chain.push(label(p))
    add(chains, chain.join(" < "), us)
  }
  print(`callers of ${name}`, chains, 5)
}
