/**
 * Where cargohold keeps its things when nobody says otherwise — the one rule, used by the Node layers (the store, the
 * embedded catalog) and by the SQL catalogs' secret box alike, so both land in the same folder.
 *
 * An explicit folder, else `$CARGOHOLD_HOME`, else `$XDG_DATA_HOME/cargohold`, else `~/.local/share/cargohold`. An
 * empty value counts as unset (`CARGOHOLD_HOME=` must not mean "the current folder"). The core has no path module:
 * the answer is the segments to join and resolve.
 */
const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === "" ? undefined : value)

export const homeSegments = (
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  userHome: string
): ReadonlyArray<string> => {
  const chosen = nonEmpty(explicit) ?? nonEmpty(env.CARGOHOLD_HOME)
  if (chosen !== undefined) return [chosen]
  return [nonEmpty(env.XDG_DATA_HOME) ?? `${userHome}/.local/share`, "cargohold"]
}
