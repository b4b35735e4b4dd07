# Shared helpers for pkg-scripts. Source it; do not run it.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Machine-wide tool cache (survives fresh clones on the same machine).
SG_TOOLS="${SIGNALGATE_TOOLS:-$HOME/.cache/signalgate/tools}"
# Where the Debian packages (rustc-web, chromium-driver) put their files.
# Only tests point it elsewhere, at a fake tree their stand-in apt-get fills.
SG_SYSTEM_PREFIX="${SG_SYSTEM_PREFIX:-/usr}"
export PATH="$ROOT/node_modules/.bin:$SG_TOOLS/bin:$HOME/.cargo/bin:$PATH"
# Keep wrangler and friends off the network and out of $HOME.
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="$ROOT/.dev/config" WRANGLER_LOG_PATH="$ROOT/.dev/logs"

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; Y=$'\e[33m'; N=$'\e[0m'; else B= G= R= Y= N=; fi

step() { printf '%s==>%s %s\n' "$B" "$N" "$*"; }
ok() { printf '    %sok%s %s\n' "$G" "$N" "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf '    %swarning:%s %s\n' "$Y" "$N" "$*" >&2; }
# die "what failed" "what to do": one line, then exit 1.
die() { printf '%serror:%s %s; %s\n' "$R" "$N" "$1" "${2:-see the output above}" >&2; exit 1; }

# seconds since $1 (an epoch from `date +%s`)
since() { echo $(( $(date +%s) - $1 ))s; }

# The wasm-bindgen version pinned in Cargo.lock, or nothing (never a failure).
wasm_bindgen_version() {
  [ -f Cargo.lock ] || return 0
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# Whether the active rustup toolchain has the wasm32 std. The list is read in
# full before grep looks at it: `rustup ... | grep -q` under pipefail can report
# "no" when grep stops early and rustup gets SIGPIPE.
rustup_has_wasm32() {
  local targets
  targets="$(rustup target list --installed 2>/dev/null)" || return 1
  grep -qx wasm32-unknown-unknown <<<"$targets"
}

# How to build wasm32 here: the active toolchain's own wasm32 std when it has
# one, otherwise Debian's rustc-web (under $SG_SYSTEM_PREFIX) with build-std.
# Sets WASM_CARGO (array), WASM_TARGET_DIR and WASM_ROUTE.
wasm_toolchain() {
  local sys="$SG_SYSTEM_PREFIX"
  if rustup_has_wasm32; then
    WASM_CARGO=(cargo)
    WASM_TARGET_DIR="$ROOT/target"
    WASM_ROUTE="rustup wasm32 target"
  elif [ -x "$sys/bin/cargo" ] && [ -x "$sys/bin/rustc" ] && [ -d "$sys/lib/rustlib/src/rust/library" ]; then
    WASM_CARGO=(env RUSTC_BOOTSTRAP=1 "$sys/bin/cargo" --config "$ROOT/pkg-scripts/wasm-build-std.toml"
      --config "build.rustc='$sys/bin/rustc'" --config "build.rustdoc='$sys/bin/rustdoc'")
    WASM_TARGET_DIR="$ROOT/target/wasm-build-std"
    WASM_ROUTE="Debian rustc-web + build-std"
  else
    return 1
  fi
}

# The version word ($2-th field, default 2) a tool prints for --version, or
# nothing when the tool is missing or fails. Never fails itself, so it is safe
# in `x="$(tool_version ...)"` under `set -euo pipefail`.
tool_version() { # command [field]
  local out
  out="$("$1" --version 2>/dev/null)" || return 0
  printf '%s\n' "$out" | awk -v f="${2:-2}" 'NR == 1 { print $f }'
}

# Fails with a clear line when setup has not been run.
need() {
  command -v "$1" >/dev/null 2>&1 || die "\`$1\` is not installed" "run pkg-scripts/setup first"
}
