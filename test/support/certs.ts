/**
 * TLS material made by `openssl` in the test: a CA, server and client certificates signed by it, and expired
 * ones. Everything lives in a temporary folder.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface Pem {
  readonly certPath: string
  readonly keyPath: string
  readonly cert: string
  readonly key: string
}

export interface TestCa extends Pem {
  readonly dir: string
  /** Signs a certificate for `commonName` with the given names. */
  readonly issue: (options: IssueOptions) => Pem
  readonly remove: () => void
}

export interface IssueOptions {
  readonly commonName: string
  /** DNS names in subjectAltName (default: localhost). */
  readonly dns?: ReadonlyArray<string> | undefined
  /** IP addresses in subjectAltName (default: 127.0.0.1, ::1). */
  readonly ips?: ReadonlyArray<string> | undefined
  /** A certificate for a client (extendedKeyUsage clientAuth) instead of a server. */
  readonly client?: boolean | undefined
  /** Valid only in 2020: expired today. */
  readonly expired?: boolean | undefined
}

const openssl = (args: ReadonlyArray<string>, cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] })

let serial = 0x1000

/** Makes a CA named `name` in a fresh temporary folder. */
export const makeCa = (name = "cargohold test CA"): TestCa => {
  const dir = mkdtempSync(join(tmpdir(), "cargohold-ca-"))
  mkdirSync(join(dir, "newcerts"))
  writeFileSync(join(dir, "index.txt"), "")
  writeFileSync(join(dir, "serial"), `${(serial++).toString(16)}\n`)
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ ca ]",
      "default_ca = CA_default",
      "[ CA_default ]",
      `dir = ${dir}`,
      "database = $dir/index.txt",
      "new_certs_dir = $dir/newcerts",
      "serial = $dir/serial",
      "default_md = sha256",
      "policy = policy_any",
      "unique_subject = no",
      "email_in_dn = no",
      "[ policy_any ]",
      "commonName = supplied",
      ""
    ].join("\n")
  )
  const keyPath = join(dir, "ca.key")
  const certPath = join(dir, "ca.pem")
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath], dir)
  openssl(
    [
      "req", "-x509", "-new", "-key", keyPath, "-out", certPath, "-days", "30", "-subj", `/CN=${name}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"
    ],
    dir
  )
  let count = 0
  const issue = (options: IssueOptions): Pem => {
    const base = join(dir, `leaf${++count}`)
    const leafKey = `${base}.key`
    const csr = `${base}.csr`
    const leafCert = `${base}.pem`
    const ext = `${base}.ext`
    const dns = options.dns ?? ["localhost"]
    const ips = options.ips ?? ["127.0.0.1", "::1"]
    const names = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)]
    writeFileSync(
      ext,
      [
        "[ v3 ]",
        "basicConstraints = CA:FALSE",
        `extendedKeyUsage = ${options.client ? "clientAuth" : "serverAuth"}`,
        ...(names.length > 0 ? [`subjectAltName = ${names.join(",")}`] : []),
        ""
      ].join("\n")
    )
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", leafKey], dir)
    openssl(["req", "-new", "-key", leafKey, "-out", csr, "-subj", `/CN=${options.commonName}`], dir)
    const dates = options.expired
      ? ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]
      : ["-days", "30"]
    openssl(
      ["ca", "-batch", "-config", join(dir, "ca.cnf"), "-cert", certPath, "-keyfile", keyPath, "-in", csr, "-out", leafCert,
        "-notext", "-extfile", ext, "-extensions", "v3", ...dates],
      dir
    )
    return { certPath: leafCert, keyPath: leafKey, cert: readFileSync(leafCert, "utf8"), key: readFileSync(leafKey, "utf8") }
  }
  return {
    dir,
    certPath,
    keyPath,
    cert: readFileSync(certPath, "utf8"),
    key: readFileSync(keyPath, "utf8"),
    issue,
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
