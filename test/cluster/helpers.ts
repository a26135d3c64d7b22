/**
 * Helpers of the cluster tests: runner processes of the built `cargohold` binary (started, awaited, killed by
 * pid), a fetch submitted as a child process, a throttled loopback file server that counts requests and what is
 * in flight per path, and read-outs of the shared PostgreSQL catalog and file store.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { binPath, type CliResult } from "../cli/helpers.js"
import { withParentDeath } from "./netns.js"

/** A free loopback port (closed again before it is returned). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 200 ms until it holds, at most `ms`. */
export const until = async (check: () => Promise<boolean> | boolean, label: string, ms = 60_000): Promise<void> => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await delay(200)
  }
  throw new Error(`timed out after ${ms} ms waiting for ${label}`)
}

export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  stdout: string
  stderr: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  readonly stop: (graceMs?: number) => Promise<void>
}

/** Starts `cargohold args…` with a clean environment plus `env` (inside network namespace `netns` if given). */
export const startCli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, netns?: string): Proc => {
  const command =
    netns === undefined ? [process.execPath, binPath, ...args] : ["ip", "netns", "exec", netns, ...withParentDeath(process.execPath, [binPath, ...args])]
  // `ip netns exec` (and setpriv) replace themselves with the command: the pid is the runner's own
  const child = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const proc: Proc = {
    child,
    pid: child.pid!,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      await proc.exited
      clearTimeout(timer)
    }
  }
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (proc.stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (proc.stderr += chunk))
  return proc
}

/** Runs `cargohold args…` to its end. */
export const runToEnd = async (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<CliResult> => {
  const proc = startCli(args, env)
  const { code } = await proc.exited
  return { code, stdout: proc.stdout, stdoutBytes: Buffer.from(proc.stdout), stderr: proc.stderr }
}

export interface Runner extends Proc {
  readonly address: string
}

/** Starts a runner and waits until it has joined (on loopback, or on `at.ip` inside namespace `at.ns`). */
export const startRunner = async (
  cluster: string,
  store: string,
  env: Readonly<Record<string, string>>,
  extra: ReadonlyArray<string> = [],
  at?: { readonly ns: string; readonly ip: string }
): Promise<Runner> => {
  const address = at === undefined ? `127.0.0.1:${await freePort()}` : `${at.ip}:34431`
  const proc = startCli(["runner", "--cluster", cluster, "--listen", address, "--store", store, ...extra], env, at?.ns)
  try {
    await until(() => proc.stderr.includes("joined the cluster") || proc.child.exitCode !== null, `runner ${address} to join`)
  } catch (error) {
    await proc.stop(1000)
    throw error
  }
  if (proc.child.exitCode !== null) throw new Error(`runner ${address} exited: ${proc.stderr}`)
  return Object.assign(proc, { address })
}

export interface SlowServer {
  readonly url: (path: string) => string
  readonly hits: Map<string, number>
  /** Requests being answered now, at most so far, all paths together. */
  readonly maxInFlight: () => number
  readonly inFlight: () => number
  /** Starts counting `maxInFlight` again from what is in flight now. */
  readonly resetMax: () => void
  /** The paths being answered now. */
  readonly inFlightPaths: () => ReadonlyArray<string>
  readonly close: () => Promise<void>
}

/**
 * Serves `files` on 127.0.0.1 in chunks of `chunk` bytes every `everyMs` (0: at once); 404 for anything else.
 * A client that goes away mid-body is simply dropped.
 */
export const serveSlowly = async (
  files: ReadonlyMap<string, Uint8Array>,
  options: { readonly chunk?: number; readonly everyMs?: number } = {}
): Promise<SlowServer> => {
  const hits = new Map<string, number>()
  let inFlight = 0
  let maxInFlight = 0
  const answering = new Map<string, number>()
  const chunk = options.chunk ?? 64 * 1024
  const everyMs = options.everyMs ?? 0
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const body = files.get(path)
    if (body === undefined) {
      response.writeHead(404, { "content-length": "0" }).end()
      return
    }
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    answering.set(path, (answering.get(path) ?? 0) + 1)
    let done = false
    const finish = () => {
      if (!done) {
        done = true
        inFlight--
        const left = (answering.get(path) ?? 1) - 1
        if (left === 0) answering.delete(path)
        else answering.set(path, left)
      }
    }
    response.on("close", finish)
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) })
    if (everyMs === 0) {
      response.end(body)
      return
    }
    let offset = 0
    const step = () => {
      if (response.destroyed) return finish()
      const next = body.subarray(offset, offset + chunk)
      offset += next.length
      if (offset >= body.length) response.end(next)
      else {
        response.write(next)
        setTimeout(step, everyMs)
      }
    }
    step()
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    maxInFlight: () => maxInFlight,
    inFlight: () => inFlight,
    resetMax: () => {
      maxInFlight = inFlight
    },
    inFlightPaths: () => [...answering.keys()],
    close: () =>
      new Promise((done) => {
        server.closeAllConnections()
        server.close(() => done())
      })
  }
}

/** Bytes received so far per connection to `port`, with the pid owning it (`ss -tnpi`, inside `netns` if given). */
const receivedPerSocket = (port: number, netns?: string): Map<string, { readonly pid: number; readonly bytes: number }> => {
  const ss = ["ss", "-Htnpi", "state", "established", `( dport = :${port} )`]
  const out = spawnSync(netns === undefined ? ss[0]! : "ip", netns === undefined ? ss.slice(1) : ["netns", "exec", netns, ...ss], {
    encoding: "utf8"
  }).stdout
  const seen = new Map<string, { pid: number; bytes: number }>()
  let socket = ""
  let pid = 0
  for (const line of out.split("\n")) {
    const head = /(\S+:\d+)\s+(\S+:\d+)\s+users:\(\("[^"]*",pid=(\d+)/.exec(line)
    if (head !== null) {
      socket = `${head[1]}>${head[2]}`
      pid = Number(head[3])
    }
    const bytes = /bytes_received:(\d+)/.exec(line)
    if (bytes !== null && socket !== "") seen.set(socket, { pid, bytes: Number(bytes[1]) })
  }
  return seen
}

/**
 * The pids receiving a body from `port` right now: one of their connections to it got bytes within 300 ms. (A
 * runner's "active" counter also counts downloads waiting for a host slot; this is what is on the wire.)
 */
export const receivingPids = async (port: number, netns?: string): Promise<Set<number>> => {
  const before = receivedPerSocket(port, netns)
  await delay(300)
  const pids = new Set<number>()
  for (const [socket, now] of receivedPerSocket(port, netns)) if (now.bytes > (before.get(socket)?.bytes ?? now.bytes)) pids.add(now.pid)
  return pids
}
