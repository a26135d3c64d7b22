/**
 * The `cargohold` process: parse argv, run the command, exit 0 (success), 1 (failed artifacts or an operational
 * error), 2 (usage or configuration error) or 130 (interrupted; a server stopped by SIGTERM exits 0, see signals.ts).
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { cli, helpTree } from "./cli.js"
import { helpPath, renderPage, styleFor } from "./help/page.js"
import { setCliV8Flags } from "./launch/v8Flags.js"
import { printErr, stdoutFailed } from "./output.js"
import { stoppedAsAsked, watchSignals } from "./signals.js"

// The heap grows to at most 2× what is live between full GCs (V8 picks up to 4× when allocating fast, as a batch
// does): workload 3 (20,000 × 4 KiB) peaks ≈ 110 MiB lower, at the same speed. A growth factor, not a limit.
// (The `/heap` entry point loads nothing else of @cargohold/node at start-up.)
// Fewer functions sent to TurboFan: its background compiles were a quarter of a batch's CPU (see tiering.ts).
// (bin/cargohold.js has set both already, before compiling the bundle: see launch/v8Flags.ts.)
setCliV8Flags()

// `--help` (and a bare `cargohold`) get cargohold's own page; everything else is parsed by @effect/cli
const help = helpPath(helpTree, process.argv.slice(2))
const run =
  help === undefined
    ? Effect.suspend(() => cli(process.argv))
    : Effect.sync(() => void process.stdout.write(renderPage(help, styleFor(process.stdout, process.env))))

/** The first line of an unexpected failure's message, at most 300 characters: never a stack or source text. */
const oneLine = (error: unknown): string => {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  const first = text.split("\n")[0] ?? ""
  return first.length > 300 ? `${first.slice(0, 300)}…` : first
}

const program = run.pipe(
  Effect.as(0),
  Effect.catchAll((error) => {
    if (ValidationError.isValidationError(error)) return Effect.succeed(2) // @effect/cli printed it already
    switch (error._tag) {
      case "UsageError":
        return Effect.as(printErr(`cargohold: ${error.message}`), 2)
      case "Finished":
        return Effect.succeed(error.code)
      default:
        return Effect.as(printErr(`cargohold: ${error.message}`), 1)
    }
  }),
  Effect.catchAllDefect((defect) =>
    Effect.as(
      Effect.zipRight(
        printErr(`cargohold: failed unexpectedly: ${oneLine(defect)}`),
        process.env.CARGOHOLD_DEBUG === "1" ? printErr(Cause.pretty(Cause.die(defect))) : Effect.void
      ),
      1
    )
  ),
  Effect.provide(NodeContext.layer)
)

// A reader that goes away (`cargohold ls | head`) ends quietly; a stdout that fails otherwise is one line, exit 1.
process.stdout.on("error", stdoutFailed)
// stderr is where failures are said: when it fails too, there is nobody left to tell
process.stderr.on("error", () => process.exit(1))
// The last resort for what escapes everything above (an exception thrown in a callback): one line, never a stack
// trace or the bundle's source; CARGOHOLD_DEBUG=1 shows the details.
const lastResort = (error: unknown) => {
  try {
    process.stderr.write(`cargohold: failed unexpectedly: ${oneLine(error)}\n`)
    if (process.env.CARGOHOLD_DEBUG === "1") process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  } finally {
    process.exit(1)
  }
}
process.on("uncaughtException", lastResort)
process.on("unhandledRejection", lastResort)

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. A pipe's writes are asynchronous,
 * and `process.exit` (which runMain calls for a non-zero code) drops what is still queued: a manifest's 10,000
 * problems or a batch's `--json` lines read through a pipe would end part-way.
 */
const drained = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve()
    else stream.write("", () => resolve())
  })

watchSignals()
NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    // interrupted: 130, unless a server was stopped by SIGTERM and shut down cleanly (its finalizers did not fail)
    const code =
      Exit.isSuccess(exit) && typeof exit.value === "number"
        ? exit.value
        : Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) && stoppedAsAsked()
          ? 0
          : 130
    void Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => onExit(code))
  }
})
