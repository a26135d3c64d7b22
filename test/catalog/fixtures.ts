/**
 * Shared fixtures of the catalog tests: digests, download records, remotes with secrets.
 */
import { type ByteSize, type DownloadRecord, Remote, type Sha256 } from "@cargohold/core"
import { Redacted } from "effect"
import { createHash, randomBytes } from "node:crypto"

export const digest = (algorithm: string, text: string) => createHash(algorithm).update(text).digest("hex")
export const sha = (text: string) => digest("sha256", text) as Sha256

/** A unique text per call, so tests sharing a database never collide. */
export const unique = (label: string) => `${label}-${randomBytes(6).toString("hex")}`

export const record = (text: string, overrides: Partial<DownloadRecord> = {}): DownloadRecord => {
  const sha256 = sha(text)
  return {
    sha256,
    size: text.length as ByteSize,
    digests: { sha256 },
    store: "file:///store",
    key: `${sha256.slice(0, 2)}/${sha256}`,
    url: `http://127.0.0.1/${text}`,
    finalUrl: `http://127.0.0.1/${text}`,
    at: new Date(1_700_000_000_000),
    ...overrides
  }
}

/** Secrets a dump of the database must never show. */
export const secrets = {
  password: "hunter2-basic-pa55word",
  proxyPassword: "proxy-s3cret-Zq7",
  clientKey: "-----BEGIN PRIVATE KEY-----\nMIIEclientKEYmaterial\n-----END PRIVATE KEY-----",
  token: "tok-bearer-8f3e2a91"
} as const

export const remoteWithSecrets = (name: string, priority?: number) =>
  new Remote({
    name,
    url: `https://${name}.example.test/repo/`,
    headers: { "x-repo": name },
    tls: { caCert: "/etc/ssl/ca.pem", clientCert: "/etc/ssl/client.pem", clientKey: Redacted.make(secrets.clientKey) },
    proxy: { url: "http://127.0.0.1:3128", username: "proxy-user", password: Redacted.make(secrets.proxyPassword) },
    auth: { _tag: "Basic", username: "alice", password: Redacted.make(secrets.password) },
    limits: { maxConnections: 4 },
    ...(priority === undefined ? {} : { priority })
  })

export const bearerRemote = (name: string, priority?: number) =>
  new Remote({
    name,
    url: `https://${name}.example.test/`,
    auth: { _tag: "Bearer", token: Redacted.make(secrets.token) },
    ...(priority === undefined ? {} : { priority })
  })

export const allSecretTexts: ReadonlyArray<string> = Object.values(secrets).flatMap((s) => [s, ...s.split("\n")]).filter((s) => s.length > 8)
