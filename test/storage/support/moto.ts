/**
 * Starts `moto_server` (an S3 emulator, not real S3) on a free loopback port for one test file.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"

export interface Moto {
  readonly endpoint: string
  readonly stop: () => Promise<void>
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const answers = async (endpoint: string): Promise<boolean> => {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(1000) })
    await response.arrayBuffer()
    return true
  } catch {
    return false
  }
}

export const startMoto = async (): Promise<Moto> => {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const deadline = Date.now() + 30_000
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr}`)
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`moto_server did not answer on ${endpoint}: ${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM")
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        if (child.exitCode === null) child.kill("SIGKILL")
      }
    }
  }
}

/** Dummy credentials for moto (it accepts any). */
export const motoCredentials = { accessKeyId: "testing", secretAccessKey: "testing" }
