/**
 * The `cargohold` command tree, and the same tree for `--help` (help/page.ts) with each page's notes.
 */
import { Command } from "@effect/cli"
import { lsCommand, whereisCommand } from "./commands/catalog.js"
import { clusterCommand, clusterStatus, runnerCommand } from "./commands/cluster.js"
import { fetchCommand } from "./commands/fetch.js"
import { catCommand, exportCommand, replicateCommand, verifyCommand } from "./commands/integrity.js"
import { remoteAdd, remoteCommand, remoteList, remoteRemove, remoteShow, sourcesAdd, sourcesCommand } from "./commands/remote.js"
import { repoAdd, repoCommand, repoCreate, repoDiff, repoLs, repoRemove, repoVersions } from "./commands/repo.js"
import { type HelpNode, type HelpNote, helpNode } from "./help/page.js"
import { serveCommand } from "./commands/serve.js"

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
    repoCommand,
    serveCommand,
    runnerCommand,
    clusterCommand
  ])
)

export const cli = Command.run(cargohold, { name: "cargohold", version })

const exitCodes = (one: string): HelpNote => ({
  title: "Exit codes",
  rows: [
    ["0", "success"],
    ["1", one],
    ["2", "usage or configuration error: nothing was done"],
    ["130", "interrupted (Ctrl-C), after the summary of what was done"]
  ]
})

const manifestFormats: HelpNote = {
  title: "Manifests (-i FILE, or -i - for stdin; the format is detected)",
  rows: [
    ["lines", "URL [ALG:HEX]... [SIZE] per line; # starts a comment"],
    ["JSON Lines", '{"url"|"urls", "sha256"|"digests", "size", "priority", "mirrors": [{"url", "priority"}]} per line'],
    ["Metalink 4", ".meta4: each <file> with its <size>, <hash>es and <url>s (priorities kept)"]
  ],
  text: ["The whole manifest is checked first: any bad line exits 2, naming every bad line, and nothing is fetched."]
}

const output: HelpNote = {
  title: "Output",
  text: [
    "One line per artifact on stdout, tab-separated: fetched|stored|unchanged|failed SHA256 SIZE PATH URL, then 'from URL' when another URL served the bytes, or the error. --json: one object per line. Progress and the summary go to stderr."
  ]
}

/** What `--help` shows, command by command (test/cli/help.test.ts checks that it lists every command above). */
export const helpTree: HelpNode = helpNode(cargohold, {
  children: [
    helpNode(fetchCommand, { notes: [output, manifestFormats, exitCodes("one or more artifacts failed (the others are kept)")] }),
    helpNode(whereisCommand, { notes: [exitCodes("the catalog does not know it")] }),
    helpNode(lsCommand),
    helpNode(remoteCommand, {
      children: [helpNode(remoteAdd), helpNode(remoteList), helpNode(remoteShow), helpNode(remoteRemove)]
    }),
    helpNode(sourcesCommand, { children: [helpNode(sourcesAdd)] }),
    helpNode(repoCommand, {
      children: [
        helpNode(repoCreate),
        helpNode(repoAdd),
        helpNode(repoRemove),
        helpNode(repoLs),
        helpNode(repoVersions),
        helpNode(repoDiff)
      ]
    }),
    helpNode(serveCommand),
    helpNode(verifyCommand, { notes: [exitCodes("a bad copy was found (and not repaired)")] }),
    helpNode(replicateCommand),
    helpNode(exportCommand),
    helpNode(catCommand),
    helpNode(runnerCommand, {
      notes: [
        {
          title: "Cluster",
          text: [
            "Runners share the cluster database (its catalog too, unless --catalog says otherwise) and should share a store (--store s3://… or a shared folder). fetch -i FILE --cluster URL sends a batch to them; cargohold cluster status shows them."
          ]
        }
      ]
    }),
    helpNode(clusterCommand, { children: [helpNode(clusterStatus)] })
  ],
  notes: [
    {
      title: "Where",
      text: [
        "Every command takes --home DIR (default $CARGOHOLD_HOME, else $XDG_DATA_HOME/cargohold), --catalog URL and --store URL.",
        "Results go to stdout, messages and progress to stderr."
      ]
    },
    exitCodes("one or more artifacts failed, or a bad copy was found")
  ]
})
