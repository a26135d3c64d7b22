/**
 * Runs one command under `/usr/bin/time -v`: wall time (measured here, high resolution), peak RSS, CPU times.
 */
import { spawn } from "node:child_process"
import { openSync, closeSync, readFileSync } from "node:fs"
import { join } from "node:path"

export interface Command {
  readonly argv: ReadonlyArray<string>
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
}

export interface Measurement {
  readonly wallS: number
  readonly maxRssMiB: number
  readonly userS: number
  readonly sysS: number
}

export type RunOutcome =
  | { readonly _tag: "ok"; readonly measurement: Measurement }
  | { readonly _tag: "failed"; readonly exitCode: number | null; readonly detail: string; readonly measurement?: Measurement }

/** Exit code a contender script uses to say "this contender cannot run here" (e.g. an API not yet built). */
export const unavailableExitCode = 3

const field = (report: string, label: string): string | undefined => {
  const line = report.split("\n").find((l) => l.trim().startsWith(label))
  return line?.slice(line.lastIndexOf(": ") + 2).trim()
}

const parseReport = (report: string, wallS: number): Measurement => ({
  wallS,
  maxRssMiB: Number(field(report, "Maximum resident set size (kbytes)") ?? "0") / 1024,
  userS: Number(field(report, "User time (seconds)") ?? "0"),
  sysS: Number(field(report, "System time (seconds)") ?? "0")
})

const read = (path: string): string => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return ""
  }
}
const tail = (path: string, chars: number): string => read(path).slice(-chars).trim()
/** The first lines of an error output: where the message is (stacks come after it). */
const head = (path: string, chars: number): string => read(path).trim().slice(0, chars).replace(/\s+/g, " ")

/** Runs `command`; its stdout/stderr go to files in `logDir` (prefix `name`). */
export const measure = (command: Command, logDir: string, name: string, timeoutMs: number): Promise<RunOutcome> =>
  new Promise((resolve) => {
    const reportPath = join(logDir, `${name}.time`)
    const stdoutPath = join(logDir, `${name}.stdout`)
    const stderrPath = join(logDir, `${name}.stderr`)
    const out = openSync(stdoutPath, "w")
    const err = openSync(stderrPath, "w")
    const started = performance.now()
    const child = spawn("/usr/bin/time", ["-v", "-o", reportPath, ...command.argv], {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ["ignore", out, err],
      detached: true
    })
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
    }, timeoutMs)
    const killGroup = () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL")
    }
    process.once("exit", killGroup)
    child.once("exit", (code, signal) => {
      const wallS = (performance.now() - started) / 1000
      clearTimeout(timer)
      process.removeListener("exit", killGroup)
      closeSync(out)
      closeSync(err)
      const measurement = parseReport(tail(reportPath, 4000), wallS)
      if (code === 0) return resolve({ _tag: "ok", measurement })
      const why = signal !== null ? `killed by ${signal}${wallS * 1000 >= timeoutMs ? " (timeout)" : ""}` : `exit ${code}`
      const detail = `${why}: ${head(stderrPath, 400) || tail(stdoutPath, 400)}`
      resolve({ _tag: "failed", exitCode: code, detail, measurement })
    })
  })
