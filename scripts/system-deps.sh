#!/usr/bin/env bash
# Debian packages the tests and the bench need; installs only what is missing (needs root, as in CI).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v aria2c >/dev/null || need+=(aria2)
command -v curl >/dev/null || need+=(curl)
[[ -x /usr/bin/time ]] || need+=(time)
/usr/bin/python3 -c 'import aiohttp' >/dev/null 2>&1 || need+=(python3-aiohttp) # the bench's pulpcore-loop contender
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${need[*]} (install them as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # nginx-light's package starts a default server on port 80; the tests start their own on other ports.
  if command -v service >/dev/null; then service nginx stop >/dev/null 2>&1 || true; fi
fi
command -v moto_server >/dev/null || echo "warning: moto_server (S3 emulator) not found; the S3 tests will fail" >&2
