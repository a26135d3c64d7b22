/**
 * latest.md / console rendering of a BenchResult.
 */
import type { BenchResult, Row, WorkloadResult } from "./results.js"

const fmt = (value: number, unit = ""): string => (Number.isFinite(value) ? `${value}${unit}` : "–")

const rowLine = (w: WorkloadResult, row: Row): string => {
  const status =
    row.status === "ok" ? "" : row.status === "unavailable" ? `not available: ${row.note ?? ""}` : `FAILED: ${row.note ?? ""}`
  const hasNumbers = row.runs.length > 0
  const throughput = w.files > 1 ? `${fmt(row.filesPerS)} files/s` : `${fmt(row.mibPerS)} MiB/s`
  const cells = hasNumbers
    ? [fmt(row.medianWallS, " s"), throughput, fmt(row.speedVsReference, "×"), fmt(row.medianRssMiB, " MiB"), fmt(row.medianCpuS, " s"), fmt(row.cpuVsReference, "×")]
    : ["–", "–", "–", "–", "–", "–"]
  const name = row.isCargohold ? `**${row.label}**` : row.label
  return `| ${name} | ${cells.join(" | ")} | ${row.runs.length} | ${status.replace(/\|/g, "/").replace(/\n/g, " ").slice(0, 200)} |`
}

export const workloadTable = (w: WorkloadResult): string =>
  [
    `### Workload ${w.id}: ${w.title}`,
    "",
    `| contender | median wall | throughput | speed vs ${w.reference} | peak RSS | CPU (user+sys) | CPU vs ${w.reference} | runs | note |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ...w.rows.map((row) => rowLine(w, row))
  ].join("\n")

export const renderMarkdown = (result: BenchResult): string => {
  const m = result.machine
  const goals = result.goals.map(
    (g) => `| ${g.goal} | ${g.actual} | ${g.met === null ? "not measured" : g.met ? "met" : "**not met**"} |`
  )
  const extras = result.extras.map((e) =>
    [`### ${e.title} (${e.status})`, "", "```", e.output.trim(), "```"].join("\n")
  )
  return [
    `# cargohold bench${result.smoke ? " (smoke: tiny corpus, numbers meaningless)" : ""}`,
    "",
    `- date: ${result.date}`,
    `- machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryMiB} MiB memory, Node ${m.node}, ${m.os}`,
    `- command: \`${result.command}\``,
    "- nginx on loopback (sendfile, keepalive); medians of alternating runs; peak RSS from `/usr/bin/time -v`.",
    "  The machine is shared and noisy: compare ratios within this run, not absolute numbers across runs.",
    "",
    ...result.workloads.flatMap((w) => [workloadTable(w), ""]),
    "### Goals (issues 7, 12 and 13)",
    "",
    "| goal | this run | |",
    "|---|---:|---|",
    ...goals,
    "",
    ...extras.flatMap((e) => [e, ""])
  ].join("\n")
}
