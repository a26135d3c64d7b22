/**
 * Who owns a temp file of the store: its name says which process made it, so the next process that opens the store
 * can remove the leftovers of processes that died (kill -9, a crash, power loss) without waiting for them to age,
 * and never touches a file of a process still running.
 *
 * A name is `<scope>-<pid>-<start>-<uuid>.<ext>`:
 * - `scope`: 8 hex digits of a hash of the host name, the pid namespace and the boot id. Only a process with the
 *   same scope can judge the pid (same machine, same pid numbering, same boot); any other file (another host on a
 *   shared filesystem, another container, an older cargohold) is left to the age rule.
 * - `pid` and `start`: the owner's pid and its start time in clock ticks since boot (`/proc/<pid>/stat`, field 22),
 *   base 36. The owner is alive when `process.kill(pid, 0)` finds the pid and that pid's start time is still
 *   `start`; a pid reused by a later process has a later start time, so its predecessor's files are swept.
 * Without `/proc` (macOS, Windows) the start time is `0` (unknown): a live pid then keeps its files (a reused pid
 * keeps them until they age), a dead one does not.
 */
import { createHash, randomUUID } from "node:crypto"
import { readFileSync, readlinkSync } from "node:fs"
import { hostname } from "node:os"

const readOr = (read: () => string, fallback: string): string => {
  try {
    return read()
  } catch {
    return fallback
  }
}

/** A process's start time (clock ticks since boot) from `/proc/<pid>/stat`, or undefined when unreadable. */
export const startTimeOf = (pid: number | "self"): string | undefined => {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, "latin1"), "")
  // the command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ticks = fields[19]
  return ticks !== undefined && /^\d+$/.test(ticks) ? Number(ticks).toString(36) : undefined
}

const identity = (() => {
  const namespace = readOr(() => readlinkSync("/proc/self/ns/pid"), "")
  const boot = readOr(() => readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim(), "")
  const scope = createHash("sha256").update(`${hostname()}\n${namespace}\n${boot}`).digest("hex").slice(0, 8)
  return { scope, pid: process.pid, start: startTimeOf("self") ?? "0" }
})()

/** A fresh temp file name owned by this process. */
export const ownedName = (ext: string): string => `${identity.scope}-${identity.pid}-${identity.start}-${randomUUID()}.${ext}`

const ownedPattern = /^([0-9a-f]{8})-(\d+)-([0-9a-z]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[a-z]+$/

/** True when a pid exists (a process we may not signal exists too). */
const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (cause) {
    return (cause as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * What the name of a temp file says of its owner: `dead` (the file may go now), `alive`, or `unknown` (a name of
 * another scope or an older format: only its age can tell).
 */
export const ownerOf = (name: string): "dead" | "alive" | "unknown" => {
  const match = ownedPattern.exec(name)
  if (match === null || match[1] !== identity.scope) return "unknown"
  const pid = Number(match[2])
  if (pid === identity.pid) return match[3] === identity.start ? "alive" : "dead"
  if (!pidExists(pid)) return "dead"
  const start = match[3]!
  if (start === "0") return "alive"
  const now = startTimeOf(pid)
  // unreadable although the pid exists (hidepid): assume the owner lives
  if (now === undefined) return "alive"
  return now === start ? "alive" : "dead"
}

/**
 * This process's temp naming for stores outside this package (`@cargohold/s3`'s `owners` option): names that say
 * their owner, and what a name says of it, so the next process clears a killed one's leftovers at once.
 */
export const processTempOwners: {
  readonly name: () => string
  readonly ownerOf: (name: string) => "dead" | "alive" | "unknown"
} = { name: () => ownedName("upload"), ownerOf }
