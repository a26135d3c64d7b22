/**
 * S3 upload bench: a large artifact served by a local HTTP server, streamed into moto_server (an S3 emulator on
 * loopback) by each upload path of bench/s3-variants.ts, each in its own process; then the import cost of the
 * client libraries. moto (Python) is likely the bottleneck: compare ratios from one run, not absolute numbers.
 * usage: npx tsx bench/s3.ts [--mb 500] [--repeats 3] [--only cargohold,sigv4-undici]
 * Needs the workspace built (`npm run build`, or `npx tsc -b`).
 */
import { spawn, spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3"
import { startMoto } from "../test/storage/support/moto.js"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const mb = Number(arg("mb", "500"))
const repeats = Number(arg("repeats", "3"))
const only = arg("only", "cargohold,lib-storage,sigv4-undici").split(",")
const size = mb * 1024 * 1024

// The artifact: one random MiB repeated (deterministic within a run, no 500 MB in this process).
const block = randomBytes(1024 * 1024)
const hash = createHash("sha256")
for (let i = 0; i < mb; i++) hash.update(block)
const sha256 = hash.digest("hex")

const source = createServer((_req, res) => {
  res.writeHead(200, { "content-length": String(size) })
  let sent = 0
  const pump = () => {
    while (sent < mb) {
      sent++
      if (!res.write(block)) return void res.once("drain", pump)
    }
    res.end()
  }
  pump()
})
await new Promise<void>((resolve) => source.listen(0, "127.0.0.1", resolve))
const sourceUrl = `http://127.0.0.1:${(source.address() as AddressInfo).port}/artifact.bin`

const moto = await startMoto()
const client = new S3Client({
  endpoint: moto.endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" }
})
const bucket = "bench"
await client.send(new CreateBucketCommand({ Bucket: bucket }))

const variantsScript = fileURLToPath(new URL("./s3-variants.ts", import.meta.url))
const runChild = (variant: string, key: string) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", variantsScript, variant, sourceUrl, sha256, moto.endpoint, bucket, key], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      if (code !== 0 || line === "") reject(new Error(`${variant} exited ${code}: ${out}`))
      else resolve(JSON.parse(line) as Record<string, unknown>)
    })
  })

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(`artifact ${mb} MiB, part 8 MiB, 4 parts in flight, ${repeats} runs each (alternating), moto at ${moto.endpoint}`)
const results = new Map<string, Array<Record<string, unknown>>>()
try {
  for (let r = 0; r < repeats; r++) {
    for (const variant of only) {
      const result = await runChild(variant, `${variant}-${r}`)
      results.set(variant, [...(results.get(variant) ?? []), result])
      console.log(JSON.stringify(result))
    }
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  console.log(`open multipart uploads after the runs: ${(uploads.Uploads ?? []).length}`)
  console.log("\n| path | MiB/s (median) | wall s | peak RSS MiB | user CPU s |\n|---|---|---|---|---|")
  for (const [variant, rs] of results) {
    const secs = median(rs.map((x) => x.seconds as number))
    console.log(
      `| ${variant} | ${(mb / secs).toFixed(0)} | ${secs.toFixed(1)} | ${median(rs.map((x) => x.peakRssMiB as number))} | ${median(rs.map((x) => x.userCpuS as number)).toFixed(1)} |`
    )
  }
} finally {
  client.destroy()
  source.close()
  await moto.stop()
}

// Import cost: wall and peak RSS of a process that only imports the module.
console.log("\n| import | wall s (median of 5) | peak RSS MiB |\n|---|---|---|")
for (const [label, code] of [
  ["nothing", "0"],
  ["undici", "await import('undici')"],
  ["@aws-sdk/client-s3 (+ new S3Client)", "const m = await import('@aws-sdk/client-s3'); new m.S3Client({ region: 'us-east-1' })"],
  ["@aws-sdk/lib-storage", "await import('@aws-sdk/lib-storage')"],
  ["@cargohold/s3 (SDK loaded lazily)", "await import('@cargohold/s3')"]
] as const) {
  const walls: Array<number> = []
  const rss: Array<number> = []
  for (let i = 0; i < 5; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, "--input-type=module", "-e", code], { encoding: "utf8" })
    const [wall, kb] = (r.stderr.trim().split("\n").pop() ?? "0 0").split(" ").map(Number)
    walls.push(wall!)
    rss.push(kb! / 1024)
  }
  console.log(`| ${label} | ${median(walls).toFixed(2)} | ${median(rss).toFixed(0)} |`)
}
