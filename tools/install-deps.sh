#!/usr/bin/env bash
# Install what FleetOps needs on Debian 12 and is not there yet.
#
# Safe to run any number of times: it asks dpkg first and only when a package
# is missing does it run `apt-get update` and `apt-get install`. With
# everything present it takes well under a second and changes nothing.
#
# To add a dependency, add its Debian package name to one of the lists below
# (keep one package per line and say what it is for). Packages that are only
# needed when a command is absent go through want_unless_command.
#
# Usage: tools/install-deps.sh [--check]
#   --check   only report what is missing; exit 1 if anything is.
#
# Output: one line per action on stderr, prefixed with "install-deps:".
set -euo pipefail

# C toolchain and build.
PKGS_BUILD=(
  build-essential
  cmake
  pkg-config
  clang-format          # .clang-format is checked
)

# Libraries the C code links against (headers + pkg-config files).
PKGS_LIBS=(
  librdkafka-dev        # Kafka client (and its mock cluster for unit tests)
  liburing-dev          # io_uring chunk reads
  libmimalloc-dev
  libpq-dev             # PostgreSQL client
  libblosc-dev          # zarr chunk codec
  uuid-dev              # UUIDv5 event ids
  libcjson-dev
  libjansson-dev
  libwebsockets-dev     # operator REST + WebSocket
)

# Services and the tools that run or inspect them.
PKGS_SERVICES=(
  postgresql-15         # server binaries in /usr/lib/postgresql/15/bin
  kcat                  # Kafka metadata checks, topic inspection
  maven                 # fetches the Kafka broker jars (tools/kafka/pom.xml)
  unzip
  iproute2              # ss: who listens on a port
)

# Data tooling (zarr fixtures, tools/*.py).
PKGS_DATA=(
  python3-zarr
  python3-numcodecs
  python3-yaml          # tests/ops/test_openapi.py reads docs/openapi.yaml
)

# the dashboard's end-to-end tests drive Debian's Chromium (node and npm come with the machine)
PKGS_UI=(chromium)

log() { printf 'install-deps: %s\n' "$*" >&2; }

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0 ;;
  "") ;;
  *) log "unknown option: $1 (try --help)"; exit 2 ;;
esac

wanted=("${PKGS_BUILD[@]}" "${PKGS_LIBS[@]}" "${PKGS_SERVICES[@]}"
        "${PKGS_DATA[@]}" "${PKGS_UI[@]}")

# want_unless_command CMD PKG: want PKG only when CMD is not on the PATH
# (e.g. a JRE when some other Java is already installed).
want_unless_command() {
  if ! command -v "$1" >/dev/null 2>&1; then
    wanted+=("$2")
  fi
}
want_unless_command java openjdk-17-jre-headless

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  log "this script supports Debian/Ubuntu (dpkg + apt-get); install by hand: ${wanted[*]}"
  exit 1
fi

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != ii* ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  log "all ${#wanted[@]} packages present"
  exit 0
fi

log "missing: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
    log "not root: using sudo"
  else
    log "not root and no sudo: run as root: apt-get install ${missing[*]}"
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
log "apt-get install ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends "${missing[@]}" >&2

still=()
for pkg in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  [[ "$status" == ii* ]] || still+=("$pkg")
done
if ((${#still[@]})); then
  log "still missing after install: ${still[*]}"
  exit 1
fi
log "installed ${#missing[@]} packages"
