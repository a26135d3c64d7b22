/**
 * Hosts on one machine: network namespaces (`ip netns`), each with a veth pair to a bridge in the root namespace
 * and an address on a private /24, the link of each capped by `tc` (a token bucket each way: the root side of
 * the pair shapes what the host receives, the host side what it sends). The root namespace keeps the bridge's
 * address, so servers started there (PostgreSQL through a forwarder, moto_server) are reachable from every host.
 *
 * Every name carries the creating process's pid (`cg<pid in base 36>…`): `destroy` removes this topology on any exit path
 * (also from a process 'exit' handler), SIGKILLing whatever still runs inside its namespaces, and `sweepStale`
 * does the same for what a process killed earlier left behind (its pid is no longer alive) without touching a
 * topology another live process is using.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process"

const hasSetpriv = spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0

/**
 * `command args…` made to die with this process (util-linux `setpriv --pdeathsig KILL`, which then execs it: the
 * pid stays the command's), so a test or bench killed outright leaves no runner or server behind.
 */
export const withParentDeath = (command: string, args: ReadonlyArray<string>): [string, ...Array<string>] =>
  hasSetpriv ? ["setpriv", "--pdeathsig", "KILL", command, ...args] : [command, ...args]

/** Why hosts in namespaces cannot be made here, or undefined when they can. */
export const netnsUnavailable = (): string | undefined => {
  if (process.platform !== "linux") return "network namespaces need Linux"
  if (process.getuid?.() !== 0) return "network namespaces (ip netns, tc) need root: run as root to test across hosts"
  for (const tool of ["ip", "tc"]) {
    if (spawnSync(tool, ["-V"], { stdio: "ignore" }).status !== 0) return `${tool} (iproute2) is not installed`
  }
  return undefined
}

const run = (args: ReadonlyArray<string>, tool = "ip"): string => {
  const result = spawnSync(tool, args, { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${tool} ${args.join(" ")}: ${(result.stderr || result.stdout).trim()}`)
  return result.stdout
}
const quiet = (args: ReadonlyArray<string>, tool = "ip"): void => void spawnSync(tool, args, { stdio: "ignore" })

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** `cg` and the pid in five base-36 digits (pids stay below 2^22 = "2hjrk"), then the host or link's own name. */
const namePattern = /^cg([0-9a-z]{5})/

/** SIGKILLs every process still inside namespace `ns` (deleting a namespace does not end its processes). */
const killInside = (ns: string): void => {
  const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout
  for (const pid of pids.split(/\s+/).filter((p) => p !== "")) {
    try {
      process.kill(Number(pid), "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/** Removes namespaces and links of earlier processes that are gone. */
export const sweepStale = (): void => {
  const stale = (name: string) => {
    const match = namePattern.exec(name)
    return match !== null && !alive(Number.parseInt(match[1]!, 36))
  }
  for (const line of run(["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? ""
    if (stale(name)) {
      killInside(name)
      quiet(["netns", "del", name])
    }
  }
  for (const line of run(["-o", "link", "show"]).split("\n")) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? ""
    if (stale(name)) quiet(["link", "del", name])
  }
}

export interface Host {
  /** The namespace's name (`ip netns exec NAME …`). */
  readonly ns: string
  /** Its addresses on the subnet (the first is its own; more when asked). */
  readonly ips: ReadonlyArray<string>
  readonly ip: string
}

export interface HostsOptions {
  /** Host names (short, [a-z0-9]) and how many addresses each gets (default 1). */
  readonly hosts: ReadonlyArray<{ readonly name: string; readonly addresses?: number }>
  /** Names of hosts whose link is capped, and the cap each way in MiB/s. */
  readonly capped?: ReadonlyArray<string>
  readonly rateMiBps?: number
}

export interface Hosts {
  /** The root namespace's address on the subnet (the bridge). */
  readonly bridgeIp: string
  readonly host: (name: string) => Host
  /** Starts `command args…` inside a host's namespace (`ip netns exec` replaces itself: the pid is the command's). */
  readonly spawnIn: (name: string, command: string, args: ReadonlyArray<string>, options?: SpawnOptions) => ChildProcess
  /** Removes namespaces, links and the bridge; idempotent and synchronous (safe in an exit handler). */
  readonly destroy: () => void
}

/** A /24 under 10.0.0.0/8 that no local route covers yet. */
const freeSubnet = (): string => {
  const routes = run(["-4", "route", "show", "table", "all"])
  for (let i = 0; i < 200; i++) {
    const b = 100 + ((process.pid + i) % 150)
    const c = (Math.floor(process.pid / 150) + i * 7) % 250
    const prefix = `10.${b}.${c}`
    if (!routes.includes(`${prefix}.`)) return prefix
  }
  throw new Error("no free 10.x.y.0/24 for the test hosts")
}

export const makeHosts = (options: HostsOptions): Hosts => {
  sweepStale()
  const tag = `cg${process.pid.toString(36).padStart(5, "0")}`
  const subnet = freeSubnet()
  const bridge = `${tag}br`
  const made: Array<() => void> = []
  let destroyed = false
  const destroy = () => {
    if (destroyed) return
    destroyed = true
    process.removeListener("exit", destroy)
    for (const undo of made.reverse()) undo()
  }
  process.once("exit", destroy)
  const hosts = new Map<string, Host>()
  try {
    run(["link", "add", bridge, "type", "bridge"])
    made.push(() => quiet(["link", "del", bridge]))
    run(["addr", "add", `${subnet}.1/24`, "dev", bridge])
    run(["link", "set", bridge, "up"])
    let next = 10
    for (const { name, addresses = 1 } of options.hosts) {
      const ns = `${tag}-${name}`
      const outside = `${tag}${name}`
      if (outside.length > 15) throw new Error(`host name '${name}' is too long for an interface name`)
      run(["netns", "add", ns])
      made.push(() => {
        killInside(ns)
        quiet(["netns", "del", ns])
      })
      run(["link", "add", outside, "type", "veth", "peer", "name", `${tag}in`])
      made.push(() => quiet(["link", "del", outside]))
      run(["link", "set", `${tag}in`, "netns", ns])
      run(["link", "set", outside, "master", bridge, "up"])
      const inNs = (args: ReadonlyArray<string>, tool = "ip") => run(["netns", "exec", ns, tool, ...args], "ip")
      inNs(["link", "set", `${tag}in`, "name", "eth0"])
      inNs(["link", "set", "lo", "up"])
      inNs(["link", "set", "eth0", "up"])
      const ips: Array<string> = []
      for (let i = 0; i < addresses; i++) {
        const ip = `${subnet}.${next++}`
        inNs(["addr", "add", `${ip}/24`, "dev", "eth0"])
        ips.push(ip)
      }
      if (options.capped?.includes(name)) {
        // a token bucket each way: 20 MiB/s is 168 Mbit/s; the burst covers a few of veth's 64 KiB GSO packets
        const rate = `${options.rateMiBps ?? 20}mibps`
        const tbf = ["root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"]
        run(["qdisc", "add", "dev", outside, ...tbf], "tc")
        inNs(["qdisc", "add", "dev", "eth0", ...tbf], "tc")
      }
      hosts.set(name, { ns, ips, ip: ips[0]! })
    }
  } catch (error) {
    destroy()
    throw error
  }
  return {
    bridgeIp: `${subnet}.1`,
    host: (name) => {
      const host = hosts.get(name)
      if (host === undefined) throw new Error(`no host '${name}'`)
      return host
    },
    spawnIn: (name, command, args, spawnOptions = {}) =>
      spawn("ip", ["netns", "exec", hosts.get(name)?.ns ?? name, ...withParentDeath(command, args)], spawnOptions),
    destroy
  }
}
