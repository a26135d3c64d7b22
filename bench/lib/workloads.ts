/**
 * The workloads of issue 7, full size and smoke size.
 */
import type { CorpusSpec } from "./corpus.js"

export interface Workload {
  /** Row id in the results ("3a" is workload 3 on a fifth of its artifacts, to show memory growth). */
  readonly id: string
  /** The `--workload` number that selects it. */
  readonly group: string
  readonly title: string
  readonly corpus: CorpusSpec
  /** Use only the first `subset` files of the corpus. */
  readonly subset: number | undefined
  /** The contender the ratios are computed against. */
  readonly reference: string
  readonly contenders: ReadonlyArray<string>
  /** Contenders run only when named in `--only`. */
  readonly optional: ReadonlyArray<string>
  readonly defaultRepeats: number
  readonly timeoutMs: number
  /**
   * Served by nginx with a per-connection cap (`limit_rate`, as CDNs and mirrors do) instead of the shared
   * unlimited one; with `slowMirror`, the file's URL is a second nginx at that rate and the capped one is its mirror.
   */
  readonly capped?: { readonly rate: string; readonly slowMirror?: string | undefined } | undefined
}

const KiB = 1024
const MiB = 1024 * KiB

const all = ["curl", "undici", "pulpcore-aiohttp", "aria2c", "mfh", "cargohold-cli", "cargohold-lib"]
const memory = ["undici", "cargohold-cli", "cargohold-lib"]
const large = ["curl-o", "aria2c-x8", "cargohold-one"]

/** `w3Files` overrides workload 3's artifact count (3a is a fifth of it). */
export const workloads = (smoke: boolean, w3Files?: number): ReadonlyArray<Workload> => {
  const w1: CorpusSpec = smoke ? { name: "w1", count: 40, size: 16 * KiB } : { name: "w1", count: 2000, size: 16 * KiB }
  const w2: CorpusSpec = smoke ? { name: "w2", count: 1, size: 2 * MiB } : { name: "w2", count: 1, size: 1024 * MiB }
  const w5: CorpusSpec = smoke ? { name: "w5", count: 1, size: 8 * MiB } : { name: "w5", count: 1, size: 256 * MiB }
  const w3: CorpusSpec = smoke ? { name: "w3", count: 200, size: 4 * KiB } : { name: "w3", count: w3Files ?? 100_000, size: 4 * KiB }
  const minutes = (m: number) => (smoke ? 30_000 : m * 60_000)
  return [
    {
      id: "1",
      group: "1",
      title: `${w1.count} × ${w1.size / KiB} KiB`,
      corpus: w1,
      subset: undefined,
      reference: "undici",
      contenders: smoke ? all : [...all, "undici-fsync"],
      optional: ["undici-fsync", "cargohold-download", "cargohold-lib-memcat", "cargohold-storage", "undici-protocol"],
      defaultRepeats: 5,
      timeoutMs: minutes(3)
    },
    {
      id: "2",
      group: "2",
      title: `one ${w2.size >= 1024 * MiB ? `${w2.size / 1024 / MiB} GiB` : `${w2.size / MiB} MiB`} file`,
      corpus: w2,
      subset: undefined,
      reference: "curl-o",
      contenders: ["curl-o", ...all],
      optional: ["cargohold-download"],
      defaultRepeats: 3,
      timeoutMs: minutes(5)
    },
    {
      id: "3a",
      group: "3",
      title: `${Math.floor(w3.count / 5)} × ${w3.size / KiB} KiB (memory, a fifth)`,
      corpus: w3,
      subset: Math.floor(w3.count / 5),
      reference: "undici",
      contenders: memory,
      optional: ["curl", "undici-fsync", "cargohold-download", "cargohold-lib-memcat", "cargohold-storage", "undici-protocol"],
      defaultRepeats: 1,
      timeoutMs: minutes(5)
    },
    {
      id: "3",
      group: "3",
      title: `${w3.count} × ${w3.size / KiB} KiB (memory)`,
      corpus: w3,
      subset: undefined,
      reference: "undici",
      contenders: memory,
      optional: ["curl", "undici-fsync", "cargohold-download", "cargohold-lib-memcat", "cargohold-storage", "undici-protocol"],
      defaultRepeats: 2,
      timeoutMs: minutes(15)
    },
    {
      id: "5",
      group: "5",
      title: `one ${w5.size / MiB} MiB file, nginx limit_rate 16m per connection`,
      corpus: w5,
      subset: undefined,
      reference: "curl-o",
      contenders: large,
      optional: [],
      defaultRepeats: 3,
      timeoutMs: minutes(2),
      capped: { rate: "16m" }
    },
    {
      id: "5m",
      group: "5",
      title: `one ${w5.size / MiB} MiB file, two mirrors: limit_rate 2m (the URL) and 16m (its mirror)`,
      corpus: w5,
      subset: undefined,
      reference: "curl-o",
      contenders: large,
      optional: [],
      defaultRepeats: 3,
      timeoutMs: minutes(4),
      capped: { rate: "16m", slowMirror: "2m" }
    }
  ]
}
