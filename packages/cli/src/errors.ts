/**
 * How a command ends when it does not simply succeed: usage and configuration problems exit 2, failed artifacts
 * exit 1. The message is printed once, on stderr, by `main`.
 */
import { Schema } from "effect"

/** The command line or the configuration is wrong; nothing was done. Exit 2. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

/** Writing a file or stream the command produces failed (a full disk, say): nothing partial is left. Exit 1. */
export class OutputError extends Schema.TaggedError<OutputError>()("OutputError", { message: Schema.String }) {}

/** The command ran and reported its failures already (e.g. failed artifacts). Exit with `code`. */
export class Finished extends Schema.TaggedError<Finished>()("Finished", { code: Schema.Number }) {}

/** Positional arguments that look like options: @effect/cli takes unknown flags as arguments. */
export const rejectFlagLikeArgs = (args: ReadonlyArray<string>): UsageError | undefined => {
  const flag = args.find((arg) => arg.startsWith("-") && arg !== "-")
  return flag === undefined
    ? undefined
    : new UsageError({ message: `unknown option '${flag}' (or an option without its value); see --help` })
}
