# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by scripts/demo and scripts/test: installs what killswitchd needs from Debian's
# packages (Debian 12), then configures and builds into $BUILD_DIR.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

# Build: compiler, CMake, the libraries (json-c for killswitchctl), and the pkg-config files
# that say where D-Bus and polkit files go. Run: nft for inspection, ip, the tunnel, a private
# bus, python3/socat used by the tests to make and count packets, and debootstrap/nspawn for
# the boot test in a real systemd, man-db to check the man pages, openvpn/openssl for the
# OpenVPN hook's test, python3-gi for the polkit stand-in the access test runs, iperf3 and
# perf for the benchmark, iptables and valgrind for the fault and coexistence tests, debhelper
# and lintian to build and check the Debian package (scripts/package; dpkg-dev comes with
# build-essential; systemd has the pkg-config file that says where units go).
KS_PACKAGES=(
  build-essential cmake pkg-config clang-format
  libnftnl-dev libmnl-dev libsystemd-dev libnl-3-dev libnl-route-3-dev libjson-c-dev
  libdbus-1-dev libpolkit-gobject-1-dev
  nftables iproute2 wireguard-go wireguard-tools dbus python3 socat procps util-linux
  debootstrap systemd-container man-db
  openvpn openssl python3-gi
  iperf3 linux-perf
  iptables valgrind
  debhelper lintian systemd
)

ks_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "This needs root (network namespaces, nftables): run it with sudo." >&2
    exit 1
  fi
}

ks_install_packages() {
  local missing=()
  for p in "${KS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ks_build [extra cmake arguments...]
ks_build() {
  echo "== Building in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKS_WERROR=ON "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
}
