/**
 * The result model written to latest.json, and how rows are summarised from runs.
 */
import type { Measurement } from "./measure.js"
import { median, round } from "./stats.js"

export interface Row {
  readonly contender: string
  readonly label: string
  readonly isCargohold: boolean
  readonly status: "ok" | "unavailable" | "failed"
  readonly note: string | undefined
  readonly runs: ReadonlyArray<Measurement>
  readonly medianWallS: number
  readonly medianRssMiB: number
  readonly medianCpuS: number
  readonly filesPerS: number
  readonly mibPerS: number
  /** Reference wall time ÷ this wall time: above 1 is faster than the reference. */
  readonly speedVsReference: number
  /** This CPU time (user+sys) ÷ the reference's: the noise-robust cost ratio on a busy machine. */
  readonly cpuVsReference: number
}

export interface WorkloadResult {
  readonly id: string
  readonly title: string
  readonly files: number
  readonly bytes: number
  readonly reference: string
  readonly rows: ReadonlyArray<Row>
}

export interface Goal {
  readonly goal: string
  readonly actual: string
  /** null when a contender it needs did not run. */
  readonly met: boolean | null
}

export interface Machine {
  readonly nproc: number
  readonly cpu: string
  readonly memoryMiB: number
  readonly node: string
  readonly os: string
}

export interface ExtraSection {
  readonly title: string
  readonly status: "ok" | "unavailable" | "failed"
  readonly output: string
}

export interface BenchResult {
  readonly date: string
  readonly machine: Machine
  readonly command: string
  readonly smoke: boolean
  readonly workloads: ReadonlyArray<WorkloadResult>
  readonly goals: ReadonlyArray<Goal>
  readonly extras: ReadonlyArray<ExtraSection>
}

export interface RawRow {
  readonly contender: string
  readonly label: string
  readonly isCargohold: boolean
  readonly status: "ok" | "unavailable" | "failed"
  readonly note: string | undefined
  readonly runs: ReadonlyArray<Measurement>
}

const MiB = 1024 * 1024

/** Medians and ratios for every row of a workload. */
export const summarise = (files: number, bytes: number, reference: string, raw: ReadonlyArray<RawRow>): Array<Row> => {
  const wall = (row: RawRow) => median(row.runs.map((r) => r.wallS))
  const ref = raw.find((r) => r.contender === reference && r.status === "ok")
  const cpu = (row: RawRow) => median(row.runs.map((r) => r.userS + r.sysS))
  const refWall = ref !== undefined ? wall(ref) : Number.NaN
  const refCpu = ref !== undefined ? cpu(ref) : Number.NaN
  return raw.map((row) => {
    const medianWallS = wall(row)
    return {
      ...row,
      medianWallS: round(medianWallS),
      medianRssMiB: round(median(row.runs.map((r) => r.maxRssMiB)), 1),
      medianCpuS: round(cpu(row), 2),
      filesPerS: round(files / medianWallS, 0),
      mibPerS: round(bytes / MiB / medianWallS, 1),
      speedVsReference: round(refWall / medianWallS, 2),
      cpuVsReference: round(cpu(row) / refCpu, 2)
    }
  })
}
