/**
 * `cargohold serve` beside nginx: requests/s with wrk for stored 16 KiB files (the same files, nginx from a folder,
 * serve from a repository in its store), and an on-demand repository fetched cold (every artifact's first request
 * goes upstream) against the same requests warm. Printed as ratios; compare within one run (a shared machine).
 * serve runs with `--workers W` and nginx with W worker processes (default W: the number of cores), and the bare
 * node:http ceiling is W processes too (node:cluster, like serve).
 * usage: npx tsx bench/serve.ts [--files 1000] [--seconds 10] [--connections 64] [--rounds 2] [--workers W]
 * Needs the CLI built (npm run build), nginx and wrk.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { startNginx } from "./lib/nginx.js"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const files = Number(arg("files", "1000"))
const seconds = Number(arg("seconds", "10"))
const connections = Number(arg("connections", "64"))
const rounds = Number(arg("rounds", "2"))
const workers = Number(arg("workers", String(availableParallelism())))
const size = 16 * 1024
const bin = resolve(import.meta.dirname, "../packages/cli/bin/cargohold.js")

const work = mkdtempSync(join(tmpdir(), "cargohold-bench-serve-"))
const root = join(work, "root")
const home = join(work, "home")
mkdirSync(join(root, "files"), { recursive: true })
mkdirSync(join(root, "lazy"), { recursive: true })

/** Deterministic bytes per file (a counter hashed), different for the stored and the lazy sets. */
const body = (label: string, i: number) => {
  const out = Buffer.alloc(size)
  for (let off = 0; off < size; off += 32) createHash("sha256").update(`${label}:${i}:${off}`).digest().copy(out, off)
  return out
}
const stored: Array<string> = []
const lazy: Array<string> = []
for (let i = 0; i < files; i++) {
  const name = `f${String(i).padStart(5, "0")}.bin`
  const a = body("stored", i)
  const b = body("lazy", i)
  writeFileSync(join(root, "files", name), a)
  writeFileSync(join(root, "lazy", name), b)
  stored.push(JSON.stringify({ path: `pool/${name}`, sha256: createHash("sha256").update(a).digest("hex"), size }))
  lazy.push(JSON.stringify({ path: `pool/${name}`, sha256: createHash("sha256").update(b).digest("hex"), size }))
}

const cli = (args: ReadonlyArray<string>) => {
  const run = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, CARGOHOLD_HOME: home }, encoding: "utf8" })
  if (run.status !== 0) throw new Error(`cargohold ${args.join(" ")}: ${run.stderr}`)
}

const freePort = (): Promise<number> =>
  new Promise((done) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => done(port))
    })
  })

const wrk = (base: string, paths: ReadonlyArray<string>): number => {
  const script = join(work, "paths.lua")
  writeFileSync(
    script,
    `local paths = {${paths.map((p) => JSON.stringify(p)).join(",")}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n`
  )
  const out = spawnSync("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "-s", script, base], { encoding: "utf8" })
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1]
  if (rps === undefined || /Non-2xx/.test(out.stdout)) throw new Error(`wrk failed: ${out.stdout}${out.stderr}`)
  return Number(rps)
}

/** Every URL once, `connections` at a time, with curl: seconds. */
const curlAll = (urls: ReadonlyArray<string>): number => {
  const config = join(work, "curl.cfg")
  writeFileSync(config, urls.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join(""))
  const start = performance.now()
  const out = spawnSync("curl", ["--parallel", "--parallel-max", String(connections), "-sf", "-K", config], { encoding: "utf8" })
  if (out.status !== 0) throw new Error(`curl failed (${out.status}): ${out.stderr}`)
  return (performance.now() - start) / 1000
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

let serveChild: ChildProcess | undefined
const main = async () => {
  const nginx = await startNginx(join(work, "nginx"), root, workers)
  try {
    const urlsFile = (dir: string, lines: ReadonlyArray<string>) => {
      const path = join(work, `${dir}.jsonl`)
      writeFileSync(path, lines.map((l) => {
        const o = JSON.parse(l) as Record<string, unknown>
        return JSON.stringify({ ...o, url: `${nginx.baseUrl}/${dir}/${String(o.path).slice(5)}` })
      }).join("\n"))
      return path
    }
    cli(["repo", "create", "b"])
    cli(["repo", "add", "b", "-i", urlsFile("files", stored)])
    cli(["repo", "create", "lazy"])
    cli(["repo", "add", "lazy", "-i", urlsFile("lazy", lazy), "--on-demand"])
    const port = await freePort()
    const log = openSync(join(work, "serve.log"), "w")
    serveChild = spawn(process.execPath, [bin, "serve", "--listen", `127.0.0.1:${port}`, "--workers", String(workers)], {
      env: { ...process.env, CARGOHOLD_HOME: home },
      stdio: ["ignore", "ignore", log]
    })
    const serveBase = `http://127.0.0.1:${port}`
    for (let i = 0; i < 200; i++) {
      if (spawnSync("curl", ["-sf", "-o", "/dev/null", `${serveBase}/`]).status === 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const names = stored.map((l) => String((JSON.parse(l) as { path: string }).path).slice(5))
    const nginxPaths = names.map((n) => `/files/${n}`)
    const servePaths = names.map((n) => `/b/pool/${n}`)
    const addressPaths = stored.map((l) => `/sha256/${(JSON.parse(l) as { sha256: string }).sha256}`)
    // warm-up: JIT, page cache, descriptors
    wrk(nginx.baseUrl, nginxPaths)
    wrk(serveBase, servePaths)
    const results = { nginx: [] as Array<number>, serve: [] as Array<number>, address: [] as Array<number> }
    for (let r = 0; r < rounds; r++) {
      results.nginx.push(wrk(nginx.baseUrl, nginxPaths))
      results.serve.push(wrk(serveBase, servePaths))
      results.address.push(wrk(serveBase, addressPaths))
    }
    // the ceiling of Node here: W node:http processes (node:cluster, as serve) answering every request with one
    // 16 KiB buffer, no routing, store or log
    const barePort = await freePort()
    const bareScript = join(work, "bare.cjs")
    writeFileSync(
      bareScript,
      `const c=require("node:cluster");if(c.isPrimary){for(let i=0;i<${workers};i++)c.fork();process.on("SIGTERM",()=>{for(const w of Object.values(c.workers))w.kill();process.exit(0)})}else{const b=Buffer.alloc(${size},7);require("node:http").createServer((q,r)=>{r.writeHead(200,{"content-length":b.length,"content-type":"application/octet-stream"});r.end(b)}).listen(${barePort},"127.0.0.1")}`
    )
    const bare = spawn(process.execPath, [bareScript], { stdio: "ignore" })
    for (let i = 0; i < 300; i++) {
      if (spawnSync("curl", ["-sf", "-o", "/dev/null", `http://127.0.0.1:${barePort}/x`]).status === 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    wrk(`http://127.0.0.1:${barePort}`, ["/x"])
    const bareRps = wrk(`http://127.0.0.1:${barePort}`, ["/x"])
    bare.kill("SIGTERM")
    const lazyUrls = names.map((n) => `${serveBase}/lazy/pool/${n}`)
    const cold = curlAll(lazyUrls)
    const warm = curlAll(lazyUrls)
    const n = median(results.nginx)
    const s = median(results.serve)
    const a = median(results.address)
    console.log(`files: ${files} x 16 KiB, wrk -t2 -c${connections} -d${seconds}s, ${rounds} round(s), medians; load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`)
    console.log(`nginx (${workers} workers, access log off)   ${n.toFixed(0)} req/s`)
    console.log(`serve --workers ${workers} /b/pool/NAME (latest) ${s.toFixed(0)} req/s = ${(s / n).toFixed(2)}x nginx (goal >= 0.5x)`)
    console.log(`serve /sha256/HEX                   ${a.toFixed(0)} req/s = ${(a / n).toFixed(2)}x nginx`)
    console.log(`bare node:http x${workers}, one buffer        ${bareRps.toFixed(0)} req/s = ${(bareRps / n).toFixed(2)}x nginx (Node's ceiling here)`)
    console.log(`on demand, ${files} artifacts once each with curl --parallel ${connections}: cold ${cold.toFixed(2)} s (${(files / cold).toFixed(0)}/s), warm ${warm.toFixed(2)} s (${(files / warm).toFixed(0)}/s): cold = ${(cold / warm).toFixed(2)}x warm`)
    closeSync(log)
  } finally {
    serveChild?.kill("SIGTERM")
    await nginx.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch((error) => {
  serveChild?.kill("SIGKILL")
  console.error(error)
  process.exitCode = 1
})
