/**
 * The `cargohold` command tree.
 */
import { Command } from "@effect/cli"
import { lsCommand, whereisCommand } from "./commands/catalog.js"
import { fetchCommand } from "./commands/fetch.js"
import { catCommand, exportCommand, replicateCommand, verifyCommand } from "./commands/integrity.js"
import { remoteCommand, sourcesCommand } from "./commands/remote.js"
import { repoCommand } from "./commands/repo.js"

export const version = "0.1.0"

export const cargohold = Command.make("cargohold").pipe(
  Command.withDescription("download artifacts, prove they are the right bytes, store them content-addressed, catalog them"),
  Command.withSubcommands([
    fetchCommand,
    whereisCommand,
    lsCommand,
    remoteCommand,
    sourcesCommand,
    verifyCommand,
    replicateCommand,
    exportCommand,
    catCommand,
    repoCommand
  ])
)

export const cli = Command.run(cargohold, { name: "cargohold", version })
