/**
 * Which signal stopped the process, and whether the running command treats SIGTERM as its normal stop. A server
 * (`cargohold serve`) is stopped by SIGTERM when its service manager stops it: once it has shut down gracefully that
 * is a success (exit 0), not an interruption. Everything else, and SIGINT always, exits 130 (see main.ts).
 */
let received: NodeJS.Signals | undefined
let sigtermIsStop = false

/**
 * Listens beside the runtime's own handlers (which interrupt the command); called once at start-up. Only the first
 * signal is noted, and then these listeners go, like the runtime's: a second Ctrl-C still ends the process at once.
 */
export const watchSignals = (): void => {
  const note = (signal: NodeJS.Signals) => {
    received = signal
    process.off("SIGINT", onInt)
    process.off("SIGTERM", onTerm)
  }
  const onInt = () => note("SIGINT")
  const onTerm = () => note("SIGTERM")
  process.on("SIGINT", onInt)
  process.on("SIGTERM", onTerm)
}

/**
 * A `serve` worker is stopped by its primary (SIGTERM, SIGKILL after a timeout): a Ctrl-C in the terminal reaches
 * it too, and the primary's SIGTERM that follows must not end its graceful shutdown abruptly.
 */
export const absorbRepeatedSignals = (): void => {
  process.on("SIGINT", () => {})
  process.on("SIGTERM", () => {})
}

/** The running command's normal stop is SIGTERM (a server). */
export const stopsOnSigterm = (): void => {
  sigtermIsStop = true
}

/** The process was told to stop by SIGTERM, and that is the command's normal stop. */
export const stoppedAsAsked = (): boolean => sigtermIsStop && received === "SIGTERM"
