/**
 * Options every catalog-using command takes: where the home, catalog and store are, and JSON output.
 */
import { Options } from "@effect/cli"

export const home = Options.directory("home", { exists: "either" }).pipe(
  Options.withPseudoName("DIR"),
  Options.withDescription("cargohold home (catalog and store); default $CARGOHOLD_HOME or $XDG_DATA_HOME/cargohold"),
  Options.optional
)

export const catalog = Options.text("catalog").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription("catalog URL: sqlite:///path or postgresql://user@host:port/db (env CARGOHOLD_CATALOG)"),
  Options.optional
)

export const store = Options.text("store").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription("store URL: file:///path or s3://bucket/prefix?endpoint=URL&region=R (env CARGOHOLD_STORE)"),
  Options.optional
)

export const json = Options.boolean("json").pipe(Options.withDescription("machine-readable output on stdout"))

/** `--home`, `--catalog`, `--store`. */
export const location = { home, catalog, store }

/** `--otlp URL`: spans and metrics to an OTLP/HTTP receiver (else OTEL_EXPORTER_OTLP_ENDPOINT; off when neither). */
export const otlp = Options.text("otlp").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(
    "send spans and metrics to this OTLP/HTTP receiver, e.g. http://127.0.0.1:4318 (default $OTEL_EXPORTER_OTLP_ENDPOINT; off when neither)"
  ),
  Options.optional
)

/**
 * `--file-root DIR` (repeatable): a folder the `file://` URLs that `what` names may read. Without one, such URLs are
 * refused (see core's `remote/policy.ts`); only URLs typed on the command line itself may read any file.
 */
export const fileRoot = (what: string) =>
  Options.directory("file-root", { exists: "yes" }).pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription(`a folder ${what} may read (repeatable; default none: file:// is refused)`),
    Options.repeated
  )
