/**
 * A cluster across hosts on one machine, for the tests and the bench: runner hosts in network namespaces with
 * capped links (netns.ts), an upstream host running nginx, PostgreSQL reached through a forwarder on the bridge
 * address, moto_server (an S3 emulator, not S3) on the bridge address as the shared store, and `cargohold
 * runner` processes started inside the runner hosts. The submitting `cargohold fetch --cluster` runs in the root
 * namespace and reaches PostgreSQL on loopback and the runners on their hosts' addresses.
 */
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { adminUrl, createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { tempDir } from "../cli/helpers.js"
import { freePort, type Runner, startRunner, until } from "./helpers.js"
import { type Hosts, makeHosts } from "./netns.js"
import { type Forwarder, type Moto, startForwarder, startMotoAt, startUpstream, type Upstream } from "./site.js"

export interface AcrossHostsOptions {
  /** Runner hosts to make (r1…rN); runners are started on them with `startRunner`. */
  readonly runnerHosts: number
  /** Each runner host's link, each way (default 20 MiB/s). */
  readonly rateMiBps?: number
  /** nginx's rate per request under `/slow/` (bytes/s). */
  readonly slowBytesPerSecond?: number
  /** Addresses of the upstream host (each a host for per-host limits; default 1). */
  readonly upstreamAddresses?: number
  /** What nginx serves (default: a folder of the site's own, `root` below). */
  readonly root?: string
}

export interface AcrossHosts {
  readonly hosts: Hosts
  readonly dir: ReturnType<typeof tempDir>
  /** Files served by the upstream live under `${root}/…`. */
  readonly root: string
  readonly upstream: Upstream
  readonly db: PgDatabase
  /** The cluster URL as the runners reach it (through the forwarder); `db.url` is the one on loopback. */
  readonly runnerClusterUrl: string
  readonly moto: Moto
  readonly bucket: string
  readonly s3: S3Client
  readonly store: string
  readonly env: Record<string, string>
  readonly runners: Array<Runner>
  /** Starts a runner on host `r${n}` and waits until it has joined. */
  readonly startRunner: (n: number, extra?: ReadonlyArray<string>) => Promise<Runner>
  /**
   * Waits until `count` runners are alive and hold all 300 shards between them, each its even share (±1: the
   * assignment is settled, not a moment of a hand-over where the sum is right and the split is not).
   */
  readonly awaitSpread: (count: number, ms?: number) => Promise<void>
  /** Every object key in the bucket. */
  readonly keys: () => Promise<Array<string>>
  /** Stops everything, on any exit path; idempotent. */
  readonly stop: () => Promise<void>
}

const credentials = { accessKeyId: "testing", secretAccessKey: "testing" }

export const startAcrossHosts = async (options: AcrossHostsOptions): Promise<AcrossHosts> => {
  const runnerNames = Array.from({ length: options.runnerHosts }, (_, i) => `r${i + 1}`)
  const hosts = makeHosts({
    hosts: [{ name: "up", addresses: options.upstreamAddresses ?? 1 }, ...runnerNames.map((name) => ({ name }))],
    capped: runnerNames,
    rateMiBps: options.rateMiBps ?? 20
  })
  const dir = tempDir("cargohold-hosts-")
  const runners: Array<Runner> = []
  const undo: Array<() => Promise<void> | void> = [() => hosts.destroy(), () => dir.remove()]
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const step of undo.reverse()) {
      try {
        await step()
      } catch {
        // the rest still goes
      }
    }
  }
  try {
    const root = options.root ?? join(dir.path, "www")
    const upstream = await startUpstream(hosts, "up", join(dir.path, "nginx"), root, options.slowBytesPerSecond)
    undo.push(() => upstream.stop())
    const db = await createPgDatabase("hosts")
    undo.push(() => db.drop())
    const pgTarget = new URL(adminUrl)
    const forwarder: Forwarder = await startForwarder(hosts.bridgeIp, { host: pgTarget.hostname, port: Number(pgTarget.port || 5432) })
    undo.push(() => forwarder.close())
    const runnerClusterUrl = (() => {
      const url = new URL(db.url)
      url.hostname = hosts.bridgeIp
      url.port = String(forwarder.port)
      return url.toString()
    })()
    const moto = await startMotoAt(hosts.bridgeIp, await freePort())
    undo.push(() => moto.stop())
    // this process's own client (bucket, listings): without the SDK's notice about Node versions on stderr
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
    const s3 = new S3Client({
      endpoint: moto.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED"
    })
    undo.push(() => s3.destroy())
    const bucket = "cluster"
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    const store = `s3://${bucket}/store?endpoint=${encodeURIComponent(moto.endpoint)}&region=us-east-1`
    const env = {
      CARGOHOLD_SECRET_KEY: randomBytes(32).toString("base64"),
      CARGOHOLD_HOME: join(dir.path, "home"),
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey
    }
    // runners go first, before the database they use and the hosts they live in
    undo.push(() => Promise.all(runners.map((r) => r.stop())).then(() => undefined))
    const keys = async () => {
      const out: Array<string> = []
      let token: string | undefined
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
        for (const object of page.Contents ?? []) out.push(object.Key ?? "")
        token = page.NextContinuationToken
      } while (token !== undefined)
      return out
    }
    return {
      hosts,
      dir,
      root,
      upstream,
      db,
      runnerClusterUrl,
      moto,
      bucket,
      s3,
      store,
      env,
      runners,
      startRunner: async (n, extra = []) => {
        const runner = await startRunner(runnerClusterUrl, store, env, extra, hosts.host(`r${n}`))
        runners.push(runner)
        return runner
      },
      awaitSpread: (count, ms = 90_000) =>
        until(async () => {
          const rows = await db.query(
            "SELECT shards FROM cargohold_cluster_stats WHERE NOT stopped AND updated_at > NOW() - INTERVAL '3 seconds'"
          )
          const shards = rows.map((r) => Number(r.shards))
          return (
            rows.length === count &&
            shards.reduce((n, held) => n + held, 0) === 300 &&
            shards.every((held) => Math.abs(held - 300 / count) < 1)
          )
        }, `the shards to spread over ${count} runners`, ms),
      keys,
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}
