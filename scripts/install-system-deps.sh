#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages edgeharness uses beyond npm: bubblewrap, socat and ripgrep for
# the local sandbox, curl for the sandbox tests' network checks, openssl for their test certificates,
# iproute2 for the egress tests' own network namespace, xxd for the vault test's hex re-spelling of a secret,
# chromium for browser tests. Does nothing (and needs no network) when all are present.
set -euo pipefail

packages=(bubblewrap socat ripgrep curl openssl iproute2 xxd chromium)

# the command each package provides: finding it on PATH is enough, however it was installed
command_of() {
  case "$1" in
    bubblewrap) echo bwrap ;;
    ripgrep) echo rg ;;
    iproute2) echo ip ;;
    *) echo "$1" ;;
  esac
}

present() {
  command -v "$(command_of "$1")" >/dev/null 2>&1 && return 0
  # `dpkg -s` also succeeds for removed packages whose config files remain: ask for the real state
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing_packages() {
  local pkg
  for pkg in "${packages[@]}"; do
    present "$pkg" || echo "$pkg"
  done
}

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages missing: ${missing[*]}; install them with your package manager (apt-get not found)" >&2
  exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "system packages missing: ${missing[*]}; run this script as root (sudo not found)" >&2
    exit 1
  fi
  as_root=(sudo)
fi

echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# an unreachable mirror may fail the update yet leave usable package lists: judge by the outcome below
"${as_root[@]}" apt-get update || echo "apt-get update failed; trying the install anyway" >&2
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null || true

mapfile -t still_missing < <(missing_packages)
if [ "${#still_missing[@]}" -ne 0 ]; then
  echo "system packages still missing after apt-get: ${still_missing[*]}" >&2
  exit 1
fi
echo "system packages: all present (${packages[*]})"
