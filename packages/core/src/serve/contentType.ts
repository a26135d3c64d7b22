/**
 * Content-Type from a unit's path (by its last extension). Artifacts by address are `application/octet-stream`.
 */

const types: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  css: "text/css; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  xml: "application/xml",
  yaml: "application/yaml",
  yml: "application/yaml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  gz: "application/gzip",
  tgz: "application/gzip",
  bz2: "application/x-bzip2",
  xz: "application/x-xz",
  zst: "application/zstd",
  tar: "application/x-tar",
  zip: "application/zip",
  whl: "application/zip",
  jar: "application/java-archive",
  deb: "application/vnd.debian.binary-package",
  udeb: "application/vnd.debian.binary-package",
  rpm: "application/x-rpm",
  iso: "application/x-iso9660-image",
  asc: "application/pgp-signature",
  sig: "application/pgp-signature",
  gpg: "application/pgp-keys",
  wasm: "application/wasm"
}

export const octetStream = "application/octet-stream"

export const contentTypeOf = (path: string): string => {
  const name = path.slice(path.lastIndexOf("/") + 1)
  const dot = name.lastIndexOf(".")
  return dot <= 0 ? octetStream : (types[name.slice(dot + 1).toLowerCase()] ?? octetStream)
}
