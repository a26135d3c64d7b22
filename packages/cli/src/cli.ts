/**
 * The `cargohold` command tree.
 */
import { Command } from "@effect/cli"
import { fetchCommand } from "./commands/fetch.js"

export const version = "0.1.0"

export const cargohold = Command.make("cargohold").pipe(
  Command.withDescription("download artifacts, prove they are the right bytes, store them content-addressed, catalog them"),
  Command.withSubcommands([fetchCommand])
)

export const cli = Command.run(cargohold, { name: "cargohold", version })
