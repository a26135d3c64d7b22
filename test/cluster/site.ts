/**
 * The servers of a cluster across hosts (see netns.ts): a TCP forwarder on the bridge address to a server that
 * listens on loopback in the root namespace (PostgreSQL keeps its own config), moto_server (an S3 emulator, not
 * S3) on the bridge address, and nginx as the upstream inside a host of its own, logging each request's start,
 * end, bytes and client so a test can count what was in flight at once per address and who fetched what.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { type Hosts, withParentDeath } from "./netns.js"

export interface Forwarder {
  readonly port: number
  /** Holds every byte in both directions for `ms` (connections opened meanwhile wait too), then lets them flow. */
  readonly stall: (ms: number) => void
  /**
   * Stalls for `ms` the first time a chunk from a client contains `text` (e.g. a table name of a statement), that
   * chunk included; resolves when the stall begins.
   */
  readonly stallOn: (text: string, ms: number) => Promise<void>
  /** Connections made through it so far. */
  readonly connections: () => number
  readonly close: () => Promise<void>
}

/**
 * Listens on `host` (a free port) and pipes each connection to `target`. A stall stops reading both sides (TCP
 * pushes back on the peers, as a congested or frozen link would) without closing anything.
 */
export const startForwarder = async (host: string, target: { readonly host: string; readonly port: number }): Promise<Forwarder> => {
  const sockets = new Set<net.Socket>()
  let stalledUntil = 0
  let made = 0
  const triggers: Array<{ readonly text: string; readonly ms: number; readonly begun: () => void }> = []
  const flowing = () => Date.now() >= stalledUntil
  const stall = (ms: number) => {
    stalledUntil = Math.max(stalledUntil, Date.now() + ms)
    for (const socket of sockets) socket.pause()
    setTimeout(() => {
      if (!flowing()) return
      for (const socket of sockets) socket.resume()
    }, ms + 1)
  }
  // a chunk is written on unless a stall holds it; held chunks go out in order when it ends
  const forward = (from: net.Socket, to: net.Socket, inspect: boolean) => {
    const held: Array<Buffer> = []
    const flush = () => {
      if (!flowing()) return void setTimeout(flush, stalledUntil - Date.now() + 1)
      while (held.length > 0) to.write(held.shift()!)
    }
    from.on("data", (chunk: Buffer) => {
      if (inspect && triggers.length > 0) {
        const text = chunk.toString("latin1")
        for (let i = triggers.length - 1; i >= 0; i--) {
          const trigger = triggers[i]!
          if (!text.includes(trigger.text)) continue
          triggers.splice(i, 1)
          stall(trigger.ms)
          trigger.begun()
        }
      }
      if (!flowing() || held.length > 0) {
        held.push(chunk)
        if (held.length === 1) setTimeout(flush, stalledUntil - Date.now() + 1)
        return
      }
      if (!to.write(chunk)) {
        from.pause()
        to.once("drain", () => {
          if (flowing()) from.resume()
        })
      }
    })
  }
  const server = net.createServer((inbound) => {
    made += 1
    const outbound = net.connect(target)
    for (const socket of [inbound, outbound]) {
      sockets.add(socket)
      socket.setNoDelay(true)
      socket.once("close", () => sockets.delete(socket))
      if (!flowing()) socket.pause()
    }
    forward(inbound, outbound, true)
    forward(outbound, inbound, false)
    // either side gone: the other goes too (a killed runner's PostgreSQL session ends, so its locks do)
    inbound.once("error", () => outbound.destroy())
    outbound.once("error", () => inbound.destroy())
    inbound.once("close", () => outbound.destroy())
    outbound.once("close", () => inbound.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, host, () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    stall,
    stallOn: (text, ms) => new Promise<void>((begun) => triggers.push({ text, ms, begun })),
    connections: () => made,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

const connects = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port })
    socket.setTimeout(1000, () => socket.destroy())
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => resolve(false))
  })

const stopChild = async (child: ChildProcess, graceMs = 5000): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
  await gone
  clearTimeout(timer)
}

/** Waits until `host:port` accepts connections, failing early when `child` exits. */
const awaitListening = async (child: ChildProcess, what: string, host: string, port: number, stderr: () => string, ms = 30_000) => {
  const end = Date.now() + ms
  while (!(await connects(host, port))) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${stderr()}`)
    if (Date.now() > end) {
      await stopChild(child, 100)
      throw new Error(`${what} did not listen on ${host}:${port} within ${ms} ms: ${stderr()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

export interface Moto {
  readonly endpoint: string
  /** moto_server's process (setpriv execs it). */
  readonly pid: number
  readonly stop: () => Promise<void>
}

/** moto_server (an S3 emulator) listening on `host`, port `port`. */
export const startMotoAt = async (host: string, port: number): Promise<Moto> => {
  const [command, ...args] = withParentDeath("moto_server", ["-H", host, "-p", String(port)])
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const kill = () => child.kill("SIGKILL")
  process.once("exit", kill)
  await awaitListening(child, "moto_server", host, port, () => stderr)
  return {
    endpoint: `http://${host}:${port}`,
    pid: child.pid!,
    stop: async () => {
      process.removeListener("exit", kill)
      await stopChild(child)
    }
  }
}

export interface Request {
  readonly startMs: number
  readonly endMs: number
  readonly status: number
  readonly bytes: number
  readonly client: string
  readonly server: string
  readonly path: string
}

export interface Upstream {
  /** `http://IP/` of each of the upstream's addresses (each a host of its own for per-host limits). */
  readonly bases: ReadonlyArray<string>
  /** Every request nginx has finished (logged when its last byte is handed to the kernel, or the client is gone). */
  readonly requests: () => ReadonlyArray<Request>
  readonly stop: () => Promise<void>
}

/** The most requests to `server` in flight at one time (a request ending as another starts is not overlap). */
export const maxInFlight = (requests: ReadonlyArray<Request>, server: string): number => {
  const edges: Array<readonly [number, number]> = []
  for (const r of requests) if (r.server === server) edges.push([r.startMs, 1], [r.endMs, -1])
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let most = 0
  for (const [, step] of edges) most = Math.max(most, (now += step))
  return most
}

/**
 * nginx inside `hostName`'s namespace on port 80 of each of its addresses, serving `root`. Paths under `/slow/`
 * go out at `slowBytesPerSecond` per request (nginx's limit_rate), so a download lasts long enough to overlap.
 */
export const startUpstream = async (
  hosts: Hosts,
  hostName: string,
  prefix: string,
  root: string,
  slowBytesPerSecond = 1024 * 1024
): Promise<Upstream> => {
  mkdirSync(prefix, { recursive: true })
  const host = hosts.host(hostName)
  const log = join(prefix, "access.log")
  writeFileSync(log, "")
  writeFileSync(
    join(prefix, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root root;\n" : ""}daemon off;
worker_processes 2;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  log_format timing '$msec $request_time $status $body_bytes_sent $remote_addr $server_addr $uri';
  access_log ${log} timing;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 100000;
  default_type application/octet-stream;
  types { }
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 80 backlog=4096;
    root ${root};
    location / { }
    location /slow/ { limit_rate ${slowBytesPerSecond}; }
  }
}
`
  )
  const child = hosts.spawnIn(hostName, "nginx", ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-e", join(prefix, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const kill = () => child.kill("SIGKILL")
  process.once("exit", kill)
  await awaitListening(child, "nginx", host.ip, 80, () => stderr)
  return {
    bases: host.ips.map((ip) => `http://${ip}`),
    requests: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line.length > 0)
        .map((line) => {
          const [msec, took, status, bytes, client, server, path] = line.split(" ")
          const endMs = Math.round(Number(msec) * 1000)
          return {
            startMs: endMs - Math.round(Number(took) * 1000),
            endMs,
            status: Number(status),
            bytes: Number(bytes),
            client: client ?? "",
            server: server ?? "",
            path: path ?? ""
          }
        }),
    stop: async () => {
      process.removeListener("exit", kill)
      await stopChild(child)
    }
  }
}
