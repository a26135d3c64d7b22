/**
 * Debian's nginx on a loopback port with a generated config: prefix in a temp dir, sendfile, keepalive, no access
 * log, `daemon off` so this process owns it. `stop` is idempotent and also runs on process exit.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { createConnection, createServer } from "node:net"
import { join } from "node:path"

export interface Nginx {
  readonly baseUrl: string
  readonly port: number
  readonly stop: () => Promise<void>
}

export const nginxBinary = (): string | undefined => {
  for (const candidate of ["/usr/sbin/nginx", "/usr/bin/nginx"]) if (existsSync(candidate)) return candidate
  const found = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" })
  const path = found.stdout.trim()
  return path.length > 0 ? path : undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const config = (prefix: string, root: string, port: number, workers: number, location: string): string => {
  const runAsRoot = process.getuid?.() === 0 ? "user root root;\n" : ""
  return `${runAsRoot}daemon off;
worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  # cached descriptors per worker stay well under the fd limit (100,000 files exhausted it: HTTP 500)
  open_file_cache max=4096 inactive=20s;
  default_type application/octet-stream;
  types { }
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    location / { ${location} }
  }
}
`
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

/**
 * Starts nginx serving `root` with `workers` worker processes (default 2); resolves once the port accepts
 * connections. `location`: directives for `location /` (e.g. `limit_rate 16m;`, a per-connection cap as CDNs and
 * mirrors have).
 */
export const startNginx = async (prefix: string, root: string, workers = 2, location = ""): Promise<Nginx> => {
  const binary = nginxBinary()
  if (binary === undefined) throw new Error("nginx not found (apt-get install nginx-light)")
  mkdirSync(prefix, { recursive: true })
  const port = await freePort()
  const conf = join(prefix, "nginx.conf")
  writeFileSync(conf, config(prefix, root, port, workers, location))
  const child = spawn(binary, ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr?.on("data", (data: Buffer) => (stderr += data.toString()))
  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
  }
  process.once("exit", killNow)
  const stop = async () => {
    process.removeListener("exit", killNow)
    killNow()
    await exited(child)
  }
  for (let waited = 0; ; waited += 50) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr.trim()}`)
    if (await canConnect(port)) break
    if (waited > 10_000) {
      await stop()
      throw new Error(`nginx did not listen on 127.0.0.1:${port} within 10 s: ${stderr.trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { baseUrl: `http://127.0.0.1:${port}`, port, stop }
}
