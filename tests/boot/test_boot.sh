#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Boot test: the systemd units in a real boot, with systemd as PID 1.
#
# A Debian 12 root file system (debootstrap, cached under $KS_BOOT_CACHE) is booted with
# `systemd-nspawn --boot`, once per scenario, each time on a fresh overlay over the pristine
# cache. The project goes in with its own install rules (`cmake --install`, prefix /usr), the
# units are enabled offline (`systemctl --root`), a saved state is put in place, and
# systemd-networkd configures the container's link host0. A checker unit records the boot to
# a directory of ours and ends the container; the verdicts are given here.
#
#   persist    Enabled and Persistent: the table is in force before systemd-networkd starts
#              and before any link is up; killswitchd.service adopts it (Protection "owner");
#              stopping it leaves the table, a new instance (start, or restart after SIGKILL)
#              takes it back, and the boot unit started again changes nothing.
#   corrupt    a corrupt state file: the boot installs the block-everything table and
#              killswitchd-boot.service is failed, visibly.
#   nopersist  Enabled but not Persistent: nothing is installed at boot.
#   control    killswitchd-boot.service ordered After=systemd-networkd.service instead: the
#              ordering checks of "persist" must fail, or they prove nothing.
#   exec       killswitchctl exec --exempt and --scoped under systemd: each starts its command in
#              a transient scope inside the slice the settings list (made by that first exec),
#              and only once killswitchd has that slice in its table; the exempt command's
#              datagrams arrive where root's shell is refused, and with Scope=cgroups the scoped
#              command's are refused where root's shell gets through; killswitchctl verify proves
#              both with a process of its own in each slice.
#   package    the Debian package (scripts/package) instead of cmake --install: installed with
#              apt-get in the booted container, configured with the README's "Using it"
#              commands word for word, rebooted (the table in force before networking, then
#              killswitchctl verify), upgraded to a package of a higher version while datagrams
#              flow (none leaks, none to the VPN server is lost, the new daemon re-takes the
#              table), removed (the table stays, and the message says how to lift it), purged
#              (the settings go).
#
# SAFETY: the machine's own network is never touched. Each container runs in a network
# namespace created for it (`unshare --net`, so even the host end of its veth lives and dies
# there); every mount (overlays, tmpfs, debootstrap's) is made in a private mount namespace
# that vanishes with this script; the only processes stopped are the ones started here.
#
# Environment: KS_SOURCE_DIR (the source tree), KS_BOOT_WORK_DIR (build tree and logs, default
# $KS_SOURCE_DIR/build/tests/boot), KS_BOOT_CACHE (default /var/cache/killswitchd-test),
# KS_BOOT_MIRROR (a Debian mirror for debootstrap; default: debootstrap's own),
# KS_BOOT_SCENARIOS (default "persist corrupt nopersist control exec package"). Needs root; without
# it the test is skipped (77), except under CI where that is a failure.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${KS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
WORK=${KS_BOOT_WORK_DIR:-$SRC/build/tests/boot}
CACHE=${KS_BOOT_CACHE:-/var/cache/killswitchd-test}
SCENARIOS=${KS_BOOT_SCENARIOS:-persist corrupt nopersist control exec package}

SUITE=bookworm
# What the container needs: systemd as init, the bus, nft and ip for the records, and the
# libraries the installed binaries link.
PACKAGES=systemd,systemd-sysv,dbus,nftables,iproute2,libnftnl11,libmnl0,libnl-3-200,libnl-route-3-200,libjson-c5
# Bump to rebuild every cached root file system.
CACHE_FORMAT=1
BOOT_TIMEOUT=${KS_BOOT_TIMEOUT:-90}
# Two boots, the second with the verification, an upgrade, a removal and a purge.
PACKAGE_BOOT_TIMEOUT=${KS_BOOT_PACKAGE_TIMEOUT:-180}
MAX_EXPOSURE=2.0

PASSED=0
FAILED=0
pass() { printf 'PASS: %s\n' "$*"; PASSED=$((PASSED + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; FAILED=$((FAILED + 1)); }
step() { printf '\n== %s\n' "$*"; }
die() { printf 'FAIL: boot test: setup: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

skip_or_fail() {
        if [[ -n ${CI:-} ]]; then
                die "$* (a skip is a failure under CI)"
        fi
        echo "SKIP: $*"
        exit 77
}

# ------------------------------------------------------------------------------------------
# Outside the private mount namespace: privileges and tools, then re-enter this script in it.

if [[ -z ${KS_BOOT_IN_NAMESPACE:-} ]]; then
        [[ $(id -u) -eq 0 ]] || skip_or_fail "needs root (debootstrap, systemd-nspawn, namespaces)"

        need=()
        command -v debootstrap >/dev/null || need+=(debootstrap)
        command -v systemd-nspawn >/dev/null || need+=(systemd-container)
        command -v systemctl >/dev/null || need+=(systemd)
        command -v unshare >/dev/null || need+=(util-linux)
        if ((${#need[@]})); then
                step "Installing ${need[*]}"
                export DEBIAN_FRONTEND=noninteractive
                apt-get update -qq
                apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
        fi

        # /run/systemd gets a tmpfs in the private namespace (see below); the mount point
        # itself is ours to remove if we made it.
        made=
        [[ -d /run/systemd ]] || { mkdir /run/systemd && made=1; }
        rc=0
        KS_BOOT_IN_NAMESPACE=1 unshare --mount --propagation private -- \
                bash "$HERE/${BASH_SOURCE[0]##*/}" "$@" || rc=$?
        [[ -z $made ]] || rmdir /run/systemd 2>/dev/null || true
        exit "$rc"
fi

# ------------------------------------------------------------------------------------------
# In the private mount namespace: every mount below disappears with this process.

T0=$(now)

# ---- The cached root file system ------------------------------------------------------------

KEY=$(printf '%s\n' "$CACHE_FORMAT" "$SUITE" minbase "$PACKAGES" | sha256sum | cut -c1-16)
ROOTFS=$CACHE/rootfs-$SUITE-$KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [[ ! -f $ROOTFS/.complete ]]; then
        step "Building the cached root file system $ROOTFS (debootstrap, 1 to 2 minutes)"
        t=$(now)
        tmp=$CACHE/.building-$KEY
        rm -rf --one-file-system "$tmp"
        # shellcheck disable=SC2086 # no mirror: debootstrap's default
        if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" ${KS_BOOT_MIRROR:-} \
                >"$CACHE/.debootstrap-$KEY.log" 2>&1; then
                tail -n 30 "$CACHE/.debootstrap-$KEY.log" >&2
                # debootstrap may leave /proc and /sys mounted in the target: they are in our
                # namespace, and --one-file-system keeps rm away from them anyway.
                umount -R "$tmp/proc" "$tmp/sys" 2>/dev/null || true
                rm -rf --one-file-system "$tmp"
                die "debootstrap failed (log above)"
        fi
        rm -f "$tmp"/var/cache/apt/archives/*.deb
        touch "$tmp/.complete"
        # Keep one root file system: drop those of other package lists.
        for old in "$CACHE"/rootfs-*; do
                [[ -d $old && $old != "$ROOTFS" ]] && rm -rf --one-file-system "$old"
        done
        mv "$tmp" "$ROOTFS"
        echo "debootstrap took $(since "$t")"
fi
flock -u 9

# ---- The project, built for prefix /usr -----------------------------------------------------

mkdir -p "$WORK"
if [[ " $SCENARIOS " =~ \ (persist|corrupt|nopersist|control|exec)\  ]]; then
        step "Building the project with prefix /usr in $WORK/prefix-usr"
        if ! { cmake -S "$SRC" -B "$WORK/prefix-usr" -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF \
                -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build "$WORK/prefix-usr" -j"$(nproc)"; } \
                >"$WORK/prefix-usr.log" 2>&1; then
                tail -n 40 "$WORK/prefix-usr.log"
                die "building with prefix /usr failed (log above)"
        fi
fi

# ---- The Debian packages --------------------------------------------------------------------

PKG=$WORK/package
# The version the tree says (its one place), and the upgrade's: one more in the last place.
VERSION=$(sed -n 's/^project(killswitchd VERSION \([^ )]*\).*/\1/p' "$SRC/CMakeLists.txt")
case $VERSION in
*.*.*.*) UPGRADE_VERSION=${VERSION%.*}.$((${VERSION##*.} + 1)) ;;
*) UPGRADE_VERSION=$VERSION.1 ;;
esac

# The tree as scripts/package copies it: tracked and new files, not ignored ones.
copy_tree() {  # DEST
        mkdir -p "$1"
        if [[ $(git -C "$SRC" rev-parse --show-toplevel 2>/dev/null) == "$(cd "$SRC" && pwd -P)" ]]; then
                # shellcheck disable=SC2016 # expanded by sh, for each file
                (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
                        xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
                        tar --null -T - -cf -) | tar -xf - -C "$1"
        else
                tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$1"
        fi
}

build_packages() {
        local t up=$PKG/upgrade-src maintainer
        rm -rf "$PKG"
        mkdir -p "$PKG"
        t=$(now)
        # The documented command, lintian included: any error or warning not overridden fails.
        if "$SRC/scripts/package" "$PKG/first" >"$PKG/first.log" 2>&1; then
                pass "package: scripts/package built $(cd "$PKG/first" && echo killswitchd_*.deb) in $(since "$t"); lintian: $(grep -c '^O: ' "$PKG/first/lintian.log") overridden, no error or warning"
        else
                tail -n 40 "$PKG/first.log"
                fail "package: scripts/package failed (above)"
                return 1
        fi
        # The upgrade: the same tree with a higher version, set where the version lives
        # (CMakeLists.txt) and in a changelog entry of its own. Tests and lintian ran above.
        t=$(now)
        copy_tree "$up"
        sed -i "s/^project(killswitchd VERSION $VERSION /project(killswitchd VERSION $UPGRADE_VERSION /" \
                "$up/CMakeLists.txt"
        maintainer=$(cd "$SRC" && dpkg-parsechangelog -SMaintainer)
        {
                printf 'killswitchd (%s-1) unstable; urgency=medium\n\n' "$UPGRADE_VERSION"
                printf '  * A higher version, built by the boot test to test the upgrade.\n\n'
                printf ' -- %s  %s\n\n' "$maintainer" "$(date -R)"
                cat "$SRC/debian/changelog"
        } >"$up/debian/changelog"
        if DEB_BUILD_OPTIONS=nocheck KS_PACKAGE_LINTIAN=no "$up/scripts/package" "$PKG/upgrade" \
                >"$PKG/upgrade.log" 2>&1; then
                echo "package: the upgrade, $(cd "$PKG/upgrade" && echo killswitchd_*.deb), built in $(since "$t")"
        else
                tail -n 40 "$PKG/upgrade.log"
                fail "package: building the upgrade failed (above)"
                return 1
        fi
}

PACKAGES_BUILT=
if [[ " $SCENARIOS " == *" package "* ]]; then
        step "Building the Debian packages in $PKG"
        build_packages && PACKAGES_BUILT=1
fi

LOGS=$WORK/logs
for s in $SCENARIOS; do
        rm -rf "${LOGS:?}/$s"
done
mkdir -p "$LOGS"

# ---- The boots' surroundings ----------------------------------------------------------------

# nspawn keeps lock files under /run/systemd/nspawn, and systemd-analyze writes to
# /run/systemd too: a tmpfs there takes them away with this namespace. Not earlier: the
# resolver's files may live there, and debootstrap needs them.
mount -t tmpfs -o mode=0755 tmpfs /run/systemd

# With --keep-unit, nspawn makes its payload/ and supervisor/ cgroups below the one it runs
# in, and leaves them. Give it a cgroup of ours (in each hierarchy systemd uses), removed at
# the end with whatever the containers made in it.
CGROUPS=()
enter_cgroup() {
        local line ctrl path mnt cg lines
        # Read it whole first: entering a cgroup changes the file under a reader.
        mapfile -t lines </proc/self/cgroup
        for line in "${lines[@]}"; do
                IFS=: read -r _ ctrl path <<<"$line"
                case $ctrl in
                "") mnt=$(findmnt -n -t cgroup2 -o TARGET | head -n 1) ;;
                name=systemd) mnt=$(findmnt -n -t cgroup -O name=systemd -o TARGET | head -n 1) ;;
                *) continue ;;
                esac
                [[ -n $mnt ]] || continue
                cg=$mnt${path%/}/killswitchd-boot-test.$$
                if mkdir "$cg" 2>/dev/null; then
                        CGROUPS+=("$cg")
                        echo $$ >"$cg/cgroup.procs" || die "cannot enter cgroup $cg"
                fi
        done
}
leave_cgroups() {
        local cg sub
        for cg in "${CGROUPS[@]}"; do
                echo $$ >"${cg%/*}/cgroup.procs" 2>/dev/null || true
                # Depth first; a cgroup that still has a process is left, and said so.
                while read -r sub; do
                        rmdir "$sub" 2>/dev/null || echo "warning: cgroup $sub not removed" >&2
                done < <(find "$cg" -depth -type d)
        done
}

RUN=$(mktemp -d /tmp/killswitchd-boot.XXXXXX)
mount -t tmpfs -o mode=0700 tmpfs "$RUN"
cleanup() {
        # Unmount what is still mounted below $RUN (a container that outlived its timeout
        # keeps nothing: nspawn's children die with it), then remove the empty mount point.
        umount -R "$RUN" 2>/dev/null || umount -R -l "$RUN" 2>/dev/null || true
        rmdir "$RUN" 2>/dev/null || true
        leave_cgroups
}
trap cleanup EXIT
enter_cgroup

# ---- Scenarios ------------------------------------------------------------------------------

write_state() {  # ROOT TEXT
        install -d -m 0700 "$1/var/lib/killswitchd"
        printf '%s' "$2" >"$1/var/lib/killswitchd/settings.conf"
        chmod 0600 "$1/var/lib/killswitchd/settings.conf"
}

STATE_PERSIST='# killswitchd settings; written by the daemon, see killswitchd(8)
version=1
Enabled=true
Persistent=true
AllowLan=false
AllowDhcp=true
EndpointMark=0
Tunnel=wg0
Endpoint=198.51.100.7 51820 udp
end
'

setup_persist() { write_state "$1" "$STATE_PERSIST"; }

# The slices exec starts its commands in; neither exists before the first exec makes it.
setup_exec() {
        write_state "$1" "${STATE_PERSIST%end$'\n'}ExemptCgroup=killswitch.slice/killswitch-exempt.slice
ScopedCgroup=killswitch.slice/killswitch-scoped.slice
end
"
        install -D -m 0755 "$HERE/container/ks-send" "$1/usr/local/libexec/ks-send"
        install -D -m 0644 "$HERE/container/host0-gateway.conf" \
                "$1/etc/systemd/network/80-container-host0.network.d/ks-gateway.conf"
}

setup_corrupt() {
        # Cut short: no "end" line, as after a crash in the middle of a (non-atomic) write.
        write_state "$1" $'version=1\nEnabled=true\nPersistent=true\nTunnel=wg0\nEndpoint=198.51.100.7 5'
}

setup_nopersist() {
        write_state "$1" "${STATE_PERSIST/Persistent=true/Persistent=false}"
        # The service would install the table as soon as it starts (Enabled), possibly before
        # networkd: order it after, so that what networkd sees is the boot unit's doing alone.
        install -d "$1/etc/systemd/system/killswitchd.service.d"
        printf '[Unit]\nAfter=systemd-networkd.service\n' \
                >"$1/etc/systemd/system/killswitchd.service.d/ks-boot-test.conf"
}

setup_control() {
        write_state "$1" "$STATE_PERSIST"
        # Dependencies cannot be taken away by a drop-in, so the override is a whole unit in
        # /etc: the same one, ordered after systemd-networkd.service instead of before
        # network-pre.target (keeping both would be an ordering cycle).
        sed -e 's/^Before=network-pre.target /Before=/' \
                -e '/^RequiresMountsFor=/a After=systemd-networkd.service' \
                "$1/usr/lib/systemd/system/killswitchd-boot.service" \
                >"$1/etc/systemd/system/killswitchd-boot.service"
        grep -q '^After=systemd-networkd.service' "$1/etc/systemd/system/killswitchd-boot.service" ||
                die "control: could not reorder killswitchd-boot.service"
}

install_project() {  # ROOT [CHECKER]: the checker unit, ks-boot-check by default
        local root=$1 check=${2:-ks-boot-check}
        DESTDIR=$root cmake --install "$WORK/prefix-usr" >/dev/null || die "cmake --install failed"
        install -D -m 0755 "$HERE/container/$check" "$root/usr/local/libexec/$check"
        install -D -m 0644 "$HERE/container/$check.service" \
                "$root/etc/systemd/system/$check.service"
        install -D -m 0644 "$HERE/container/networkd-pre.conf" \
                "$root/etc/systemd/system/systemd-networkd.service.d/ks-boot-test.conf"
        install -D -m 0644 "$HERE/container/host0.network" \
                "$root/etc/systemd/network/80-container-host0.network"
        systemctl --root="$root" --quiet enable killswitchd.service killswitchd-boot.service \
                systemd-networkd.service "$check.service" 2>/dev/null ||
                die "systemctl --root enable failed"
}

# The README's "Using it" commands, every line of its sh blocks, as the package test runs them.
readme_using_it() {
        awk '/^## / { in_section = ($0 == "## Using it"); next }
                !in_section { next }
                /^```/ { block = block ? 0 : ($0 == "```sh" ? 1 : 2); next }
                block == 1' "$SRC/README.md"
}

# The package scenario: no cmake --install; the packages, the README's commands and the
# checker go in, and the container installs the package itself.
prepare_package() {  # ROOT
        local root=$1
        install -d "$root/srv/ks-packages/first" "$root/srv/ks-packages/upgrade"
        cp "$PKG"/first/killswitchd_*.deb "$root/srv/ks-packages/first/"
        cp "$PKG"/upgrade/killswitchd_*.deb "$root/srv/ks-packages/upgrade/"
        readme_using_it >"$LOGS/package/readme-using-it"
        install -D -m 0644 "$LOGS/package/readme-using-it" "$root/usr/local/libexec/ks-readme-using-it"
        install -D -m 0755 "$HERE/container/ks-package-check" "$root/usr/local/libexec/ks-package-check"
        install -D -m 0755 "$HERE/container/ks-send" "$root/usr/local/libexec/ks-send"
        install -D -m 0644 "$HERE/container/ks-package-check.service" \
                "$root/etc/systemd/system/ks-package-check.service"
        install -D -m 0644 "$HERE/container/networkd-pre.conf" \
                "$root/etc/systemd/system/systemd-networkd.service.d/ks-boot-test.conf"
        install -D -m 0644 "$HERE/container/host0.network" \
                "$root/etc/systemd/network/80-container-host0.network"
        install -D -m 0644 "$HERE/container/host0-gateway.conf" \
                "$root/etc/systemd/network/80-container-host0.network.d/ks-gateway.conf"
        systemctl --root="$root" --quiet enable systemd-networkd.service ks-package-check.service \
                2>/dev/null || die "systemctl --root enable failed"
}

# boot NAME: a fresh overlay, the project, the scenario's set-up, one boot (the package
# scenario: two, the container reboots itself once).
boot() {
        local name=$1 dir=$RUN/$1 out=$LOGS/$1 rc=0 t timeout=$BOOT_TIMEOUT boots=1 wire=
        mkdir -p "$dir/upper" "$dir/work" "$dir/root" "$out"
        mount -t overlay overlay \
                -o "lowerdir=$ROOTFS,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
        if [[ $name == package ]]; then
                prepare_package "$dir/root"
                timeout=$PACKAGE_BOOT_TIMEOUT boots=2 wire=--wire
        elif [[ $name == exec ]]; then
                install_project "$dir/root" ks-exec-check
                setup_exec "$dir/root"
                wire=--wire
        else
                install_project "$dir/root"
                "setup_$name" "$dir/root"
        fi
        echo "$name" >"$dir/root/etc/ks-boot-test-scenario"
        if [[ $name == persist ]]; then
                verify_units "$dir/root"
        fi
        t=$(now)
        # A network namespace of its own: --network-veth puts the host end of the veth in it.
        (cd / && SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 unshare --net -- \
                bash "$HERE/run-container" "ks-$name" "$dir/root" "$out" "$timeout" "$boots" $wire) \
                </dev/null || rc=$?
        echo "boot $name: $(since "$t"), exit status $rc, console in $out/console"
        umount "$dir/root"
        rm -rf --one-file-system "$dir"
        if [[ ! -f $out/check-done ]]; then
                fail "$name: the container did not finish its records (exit status $rc); console:"
                tail -n 40 "$out/console"
                return 1
        fi
}

# systemd-analyze verify, on the installed tree: binaries at the ExecStart= paths, man pages
# for Documentation=, and every dependency among the root's units.
verify_units() {  # ROOT
        local root=$1 u units=() log
        for u in killswitchd.service killswitchd-boot.service; do
                units+=("$root/usr/lib/systemd/system/$u")
        done
        if log=$(MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" "${units[@]}" 2>&1) &&
                [[ -z $log ]]; then
                pass "systemd-analyze verify: killswitchd.service killswitchd-boot.service"
        else
                fail "systemd-analyze verify: $log"
        fi
}

# ---- Reading the records --------------------------------------------------------------------

prop() {  # SCENARIO UNIT PROPERTY
        sed -n "s/^$3=//p" "$LOGS/$1/$2.show"
}

# The monotonic time (µs) of networkd's first "Link UP" for a link other than loopback.
first_link_up() {  # SCENARIO
        awk -F= '
                /^__MONOTONIC_TIMESTAMP=/ { mono = $2 }
                /^MESSAGE=/ && /: Link UP$/ && !/MESSAGE=lo:/ { print mono; exit }
                /^$/ { mono = "" }' "$LOGS/$1/networkd.journal"
}

# The ordering proof; prints why it does not hold. Used for "persist" and for the control.
check_before_networking() {  # SCENARIO
        local s=$1 pre=$LOGS/$1/networkd-pre ok=0 boot_t nd_t up_t
        boot_t=$(prop "$s" killswitchd-boot.service ActiveEnterTimestampMonotonic)
        nd_t=$(prop "$s" systemd-networkd.service InactiveExitTimestampMonotonic)
        up_t=$(first_link_up "$s")
        if ! [[ ${boot_t:-0} -gt 0 && ${nd_t:-0} -gt 0 && $boot_t -lt $nd_t ]]; then
                echo "  killswitchd-boot.service active at ${boot_t:-?} µs, not before systemd-networkd.service started at ${nd_t:-?} µs"
                ok=1
        fi
        if ! [[ -n $up_t && $boot_t -lt $up_t ]]; then
                echo "  killswitchd-boot.service active at ${boot_t:-?} µs, not before the first link up at ${up_t:-never} µs"
                ok=1
        fi
        if ! [[ -f $pre ]] || ! grep -q '^table inet killswitchd' "$pre" ||
                ! grep -q 'hook output priority filter; policy drop;' "$pre"; then
                echo "  table inet killswitchd was not in force when systemd-networkd started:"
                sed 's/^/    | /' "$pre" 2>/dev/null | head -n 5
                ok=1
        fi
        # No link but loopback up yet (flags in <...> of `ip -o link`).
        if ! [[ -f $pre ]] || awk -F': ' '/^[0-9]+: / && $2 !~ /^lo$/ && $3 ~ /[<,]UP[,>]/ { bad = 1 } END { exit !bad }' "$pre"; then
                echo "  a link was already up when systemd-networkd started"
                ok=1
        fi
        return $ok
}

expect() {  # DESC CMD...
        local desc=$1
        shift
        if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# What a scenario's records say: a file of $LOGS/SCENARIO matches a pattern (grep).
has() {  # SCENARIO FILE PATTERN
        [[ -f $LOGS/$1/$2 ]] && grep -q -- "$3" "$LOGS/$1/$2"
}
record() {  # SCENARIO FILE: its first line, for messages
        head -n 1 "$LOGS/$1/$2" 2>/dev/null || echo "(none)"
}
unit_state() {  # SCENARIO UNIT: ActiveState/SubState/Result
        echo "$(prop "$1" "$2" ActiveState)/$(prop "$1" "$2" SubState)/$(prop "$1" "$2" Result)"
}

persist_back_after_kill() {
        [[ $(record persist life-restarts-after-kill) == 1 &&
                $(record persist life-protection-after-kill) == "$(record persist prop-Protection)" ]]
}
persist_boot_restart_refused() {
        has persist life-boot-restart '^status=1$' &&
                has persist life-boot-restart 'Operation not permitted' &&
                has persist life-protection-after-boot-restart '^s "owner"$' &&
                tunnels_are persist life-table-final '"lo","wg0"'
}

verdict_persist() {
        local s=persist why boot_t nd_t up_t kver score
        if why=$(check_before_networking $s); then
                pass "persist: table in force before systemd-networkd started and before any link was up"
        else
                fail "persist: ordering:"$'\n'"$why"
        fi
        expect "persist: killswitchd-boot.service active/exited/success ($(unit_state $s killswitchd-boot.service))" \
                test "$(unit_state $s killswitchd-boot.service)" = active/exited/success
        expect "persist: killswitchd.service active/running ($(unit_state $s killswitchd.service))" \
                test "$(unit_state $s killswitchd.service)" = active/running/success
        kver=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
        if ((kver >= 6009)); then
                expect "persist: killswitchd.service adopted the table: Protection $(record $s prop-Protection)" \
                        has $s prop-Protection '^s "owner"$'
        else
                expect "persist: Protection \"monitor\" (Linux $(uname -r) has no owner/persist tables)" \
                        has $s prop-Protection '^s "monitor"$'
        fi
        expect "persist: the saved settings in force at the end (tunnel wg0)" \
                tunnels_are $s table-final '"lo","wg0"'
        expect "persist: the system is running ($(record $s system-state))" \
                has $s system-state '^running$'

        boot_t=$(prop $s killswitchd-boot.service ActiveEnterTimestampMonotonic)
        nd_t=$(prop $s systemd-networkd.service InactiveExitTimestampMonotonic)
        up_t=$(first_link_up $s)
        if [[ -n $boot_t && -n $nd_t && -n $up_t ]]; then
                awk -v b="$boot_t" -v n="$nd_t" -v u="$up_t" 'BEGIN {
                        printf "MEASURED: table in force at %.6f s (monotonic); systemd-networkd started %.1f ms later; first link up %.1f ms after the table\n",
                                b / 1e6, (n - b) / 1e3, (u - b) / 1e3 }'
        fi

        expect "persist: systemctl stop killswitchd leaves the table in force" \
                has $s life-table-after-stop '^table inet killswitchd'
        expect "persist: started again, it takes the table back: Protection $(record $s life-protection-after-start)" \
                test "$(record $s life-protection-after-start)" = "$(record $s prop-Protection)"
        expect "persist: after SIGKILL, Restart=on-failure brings it back (NRestarts $(record $s life-restarts-after-kill)), Protection $(record $s life-protection-after-kill)" \
                persist_back_after_kill
        if ((kver >= 6009)); then
                expect "persist: killswitchd-boot.service started again while the service owns the table fails, and changes nothing" \
                        persist_boot_restart_refused
        fi

        score=$(sed -n 's/.*Overall exposure level for killswitchd.service: \([0-9.]*\).*/\1/p' "$LOGS/$s/security")
        if [[ -n $score ]] && awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
                pass "persist: systemd-analyze security killswitchd.service: exposure $score <= $MAX_EXPOSURE"
        else
                fail "persist: systemd-analyze security killswitchd.service: exposure ${score:-unknown} > $MAX_EXPOSURE"
        fi
        score=$(sed -n 's/.*Overall exposure level for killswitchd-boot.service: \([0-9.]*\).*/\1/p' "$LOGS/$s/security-boot")
        echo "MEASURED: systemd-analyze security killswitchd-boot.service: exposure ${score:-unknown}"
}

corrupt_status_visible() {
        has corrupt killswitchd-boot.service.status 'Active: failed' &&
                has corrupt killswitchd-boot.service.status 'Saved settings unusable'
}
set_elements_in() {  # SCENARIO FILE SET: the "elements = { ... }" of one set in a listing
        awk -v s="set $3 {" 'index($0, s) { on = 1 } on && /elements =/ { e = 1 }
                e { print; if (/}/) exit } on && !e && /^\t}/ { exit }' "$LOGS/$1/$2" 2>/dev/null |
                tr -d '\n\t '
}
tunnels_are() {  # SCENARIO FILE ELEMENTS: the tunnels set holds exactly these ("lo" is always in)
        [[ $(set_elements_in "$1" "$2" tunnels) == "elements={$3}" ]]
}
blocks_everything() {  # SCENARIO FILE: nothing allowed but loopback (the tunnels set holds
        # "lo" alone, the endpoint sets nothing; the fixed on-link destinations of DHCP and NDP
        # do not matter with AllowDhcp off)
        has "$1" "$2" '^table inet killswitchd' &&
                tunnels_are "$1" "$2" '"lo"' &&
                [[ -z $(set_elements_in "$1" "$2" endpoints4)$(set_elements_in "$1" "$2" endpoints6) ]] &&
                ! has "$1" "$2" 'udp sport 68'
}
corrupt_blocked_at_networkd() {
        blocks_everything corrupt networkd-pre &&
                has corrupt networkd-pre 'hook output priority filter; policy drop;'
}
corrupt_service_blocks() {
        has corrupt prop-Enabled '^b true$' && has corrupt prop-Tunnels '^as 0$' &&
                blocks_everything corrupt table-final
}

verdict_corrupt() {
        local s=corrupt
        expect "corrupt: killswitchd-boot.service failed ($(unit_state $s killswitchd-boot.service))" \
                test "$(unit_state $s killswitchd-boot.service)" = failed/failed/exit-code
        expect "corrupt: systemctl status killswitchd-boot shows the failure and its reason" \
                corrupt_status_visible
        expect "corrupt: the block-everything table was in force when systemd-networkd started" \
                corrupt_blocked_at_networkd
        expect "corrupt: the corrupt file was set aside as settings.conf.bad" \
                has $s state-dir '^settings.conf.bad$'
        expect "corrupt: killswitchd.service blocks everything (Enabled, no tunnels, no elements)" \
                corrupt_service_blocks
        expect "corrupt: the system is degraded ($(record $s system-state))" \
                has $s system-state '^degraded$'
}

nopersist_no_table_at_networkd() {
        has nopersist networkd-pre '^nft-status=1$' && ! has nopersist networkd-pre '^table inet killswitchd'
}

# The boot process's message, in the unit's status; or, when journald could not tell the unit
# of a process that had already exited (it happens under load), in the boot's journal under
# the unit's main PID.
nopersist_said_why() {
        local pid
        pid=$(prop nopersist killswitchd-boot.service ExecMainPID)
        has nopersist killswitchd-boot.service.status 'not enabled and persistent' ||
                has nopersist journal "killswitchd\[$pid\]: .*not enabled and persistent"
}

verdict_nopersist() {
        local s=nopersist
        expect "nopersist: killswitchd-boot.service succeeded ($(unit_state $s killswitchd-boot.service))" \
                test "$(unit_state $s killswitchd-boot.service)" = active/exited/success
        expect "nopersist: no table when systemd-networkd started" nopersist_no_table_at_networkd
        expect "nopersist: killswitchd-boot said why" nopersist_said_why
        expect "nopersist: killswitchd.service installed the table later (Enabled)" \
                has $s table-final '^table inet killswitchd'
}

verdict_control() {
        local why
        if why=$(check_before_networking control); then
                fail "control: the ordering checks passed with killswitchd-boot.service After=systemd-networkd.service: they cannot fail"
        else
                pass "control: with killswitchd-boot.service After=systemd-networkd.service the ordering checks fail:"$'\n'"$why"
        fi
}

# ---- The package scenario's verdicts --------------------------------------------------------

# The records of scenario $RECORDS: "package" unless a verdict says otherwise (local RECORDS=).
RECORDS=package
sent() {  # SENDER FIELD: sent, ok or refused, as the container's sender counted them
        sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$LOGS/$RECORDS/send-$1" 2>/dev/null
}
wire() {  # ADDRESS:PORT: the datagrams that arrived at the host end of the veth
        awk -v k="$1" '$1 == k { print $2 }' "$LOGS/$RECORDS/wire" 2>/dev/null
}
# Every datagram of SENDER went out, and arrived.
all_arrived() {  # SENDER ADDRESS:PORT
        local n
        n=$(sent "$1" sent)
        [[ ${n:-0} -gt 0 && $(sent "$1" ok) == "$n" && $(wire "$2") == "$n" ]]
}
# Every datagram of SENDER was refused by the kernel (EPERM), and none arrived.
none_left() {  # SENDER ADDRESS:PORT
        local n
        n=$(sent "$1" sent)
        [[ ${n:-0} -gt 0 && $(sent "$1" refused) == "$n" && $(sent "$1" ok) == 0 && $(wire "$2") == 0 ]]
}
counts() {  # SENDER ADDRESS:PORT: for messages
        echo "sent $(sent "$1" sent), refused $(sent "$1" refused), arrived $(wire "$2")"
}

# The package, the daemon, the client, the D-Bus property and the man page say one version.
versions_are() {  # MOMENT VERSION
        local f=$LOGS/package/versions-$1
        [[ $(sed -n 's/^package //p' "$f") == "$2-1" && $(sed -n 's/^daemon //p' "$f") == "$2" &&
                $(sed -n 's/^ctl //p' "$f") == "killswitchctl $2" &&
                $(sed -n 's/^property //p' "$f") == "s \"$2\"" && $(sed -n 's/^man //p' "$f") == "$2" ]]
}
# And so do the changelog and the docs (the versions they quote).
docs_agree() {
        local v bad=0
        [[ $(cd "$SRC" && dpkg-parsechangelog -SVersion) == "$VERSION"-* ]] || bad=1
        while read -r v; do
                [[ $v == "$VERSION" ]] || { echo "  a doc quotes version $v"; bad=1; }
        done < <(grep -oh '"Version":"[^"]*"' "$SRC/README.md" "$SRC"/docs/*.md | cut -d'"' -f4)
        return $bad
}

removal_says_so() {
        has package remove.log 'the kill switch is enabled and persistent, and removing the package does not lift it' &&
                has package remove.log 'stay in force in the kernel' &&
                has package remove.log 'killswitchctl disable' &&
                has package remove.log '^Once the package is removed: nft delete table inet killswitchd'
}
table_stays() {  # FILE
        has package "$1" '^table inet killswitchd' && has package "$1" 'hook output priority filter; policy drop;'
}
installed_blocks_nothing() {
        has package b1-table-installed '^nft-status=1$' && all_arrived installed 203.0.113.9:9001
}
upgrade_retook() {  # PROTECTION
        local before after
        before=$(record package pid-before-upgrade) after=$(record package pid-after-upgrade)
        [[ $after =~ ^[1-9][0-9]*$ && $after != "$before" ]] &&
                has package active-after-upgrade '^active$' &&
                has package prop-Protection-after-upgrade "^s \"$1\"$" &&
                [[ $(set_elements_in package table-after-upgrade tunnels) == *'"wg0"'* ]]
}
removal_keeps() {
        table_stays table-after-remove && has package state-after-remove '^settings.conf$'
}
purged() {
        has package purge.status '^0$' && ! has package state-after-purge '^ls-status=0$' &&
                ! has package dpkg-after-purge 'install ok'
}
lifted() {
        has package lift.status '^0$' && [[ -s $LOGS/package/lift-commands ]] &&
                ! has package tables-after-lift killswitchd
}

verdict_package() {
        local s=package why kver protection score unit mode up_pid

        expect "package: the changelog and the docs agree with CMakeLists.txt's version $VERSION" docs_agree
        expect "package: installed with apt-get install ./killswitchd_*.deb (exit status $(record $s install.status))" \
                test "$(record $s install.status)" = 0
        expect "package: one version everywhere: $(tr '\n' ';' <"$LOGS/$s/versions-first")" \
                versions_are first "$VERSION"
        expect "package: both units enabled by the package ($(tr '\n' ' ' <"$LOGS/$s/b1-enabled"))" \
                test "$(tr '\n' ' ' <"$LOGS/$s/b1-enabled")" = "enabled enabled "
        expect "package: killswitchd.service running after the installation ($(record $s b1-active))" \
                has $s b1-active '^active$'
        expect "package: installing blocks nothing: no table, and every datagram left ($(counts installed 203.0.113.9:9001))" \
                installed_blocks_nothing
        if [[ $(record $s readme.status) == 0 ]] && grep -q '^killswitchctl ' "$LOGS/$s/readme-using-it" &&
                grep -q '^busctl ' "$LOGS/$s/readme-using-it"; then
                pass "package: the README's \"Using it\" commands ran as written ($(grep -c . "$LOGS/$s/readme-using-it") lines)"
        else
                fail "package: the README's \"Using it\" commands (exit status $(record $s readme.status)):"
                sed 's/^/    | /' "$LOGS/$s/readme.log"
        fi
        expect "package: the kill switch in force after the README's commands" table_stays b1-table-configured

        # Rebooted: the package's units put the table in force before networking.
        if why=$(check_before_networking $s); then
                pass "package: after the reboot, the table was in force before systemd-networkd started and before any link was up"
        else
                fail "package: after the reboot, ordering:"$'\n'"$why"
        fi
        expect "package: killswitchd-boot.service active/exited/success ($(unit_state $s killswitchd-boot.service))" \
                test "$(unit_state $s killswitchd-boot.service)" = active/exited/success
        # Owner-capable kernels (6.9 and later) let the daemon own the table.
        kver=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
        protection=monitor
        ((kver < 6009)) || protection=owner
        expect "package: killswitchd.service adopted the table: Protection $(record $s prop-Protection)" \
                has $s prop-Protection "^s \"$protection\"$"
        if [[ $(record $s verify.status) == 0 ]]; then
                pass "package: killswitchctl verify: $(tail -n 1 "$LOGS/$s/verify.log")"
        else
                fail "package: killswitchctl verify (exit status $(record $s verify.status)):"
                sed 's/^/    | /' "$LOGS/$s/verify.log"
        fi
        for mode in offline online; do
                for unit in killswitchd.service killswitchd-boot.service; do
                        score=$(sed -n "s/.*Overall exposure level for $unit: \([0-9.]*\).*/\1/p" \
                                "$LOGS/$s/security-$mode-$unit")
                        echo "MEASURED: systemd-analyze security ($mode) $unit, installed by the package: exposure ${score:-unknown}"
                        [[ $unit == killswitchd.service ]] || continue
                        if [[ -n $score ]] && awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
                                pass "package: systemd-analyze security ($mode) $unit: exposure $score <= $MAX_EXPOSURE"
                        else
                                fail "package: systemd-analyze security ($mode) $unit: exposure ${score:-unknown} > $MAX_EXPOSURE"
                        fi
                done
        done

        # The upgrade, while datagrams flowed.
        expect "package: upgraded to $UPGRADE_VERSION-1 (exit status $(record $s upgrade.status))" \
                test "$(record $s upgrade.status)" = 0
        expect "package: after the upgrade, one new version everywhere: $(tr '\n' ';' <"$LOGS/$s/versions-upgrade")" \
                versions_are upgrade "$UPGRADE_VERSION"
        up_pid=$(record $s pid-after-upgrade)
        expect "package: the new daemon runs (PID $(record $s pid-before-upgrade), then $up_pid, $(record $s active-after-upgrade)) and re-took the table: Protection $(record $s prop-Protection-after-upgrade)" \
                upgrade_retook "$protection"
        expect "package: during the upgrade no datagram left outside the VPN: $(counts upgrade-blocked 203.0.113.9:9002)" \
                none_left upgrade-blocked 203.0.113.9:9002
        expect "package: during the upgrade every datagram to the VPN server arrived: $(counts upgrade-endpoint 198.51.100.7:51820)" \
                all_arrived upgrade-endpoint 198.51.100.7:51820
        echo "MEASURED: during the upgrade (1 ms apart): to 203.0.113.9:9002 $(counts upgrade-blocked 203.0.113.9:9002); to the VPN server $(counts upgrade-endpoint 198.51.100.7:51820)"
        awk -v a="$(prop $s killswitchd.service.after-upgrade ActiveExitTimestampMonotonic)" \
                -v b="$(prop $s killswitchd.service.after-upgrade ActiveEnterTimestampMonotonic)" \
                'BEGIN { if (a > 0 && b > a) printf "MEASURED: the daemon restarted by the upgrade was away from the bus for %.1f ms (the table stayed)\n", (b - a) / 1e3 }'

        # Removal, purge, and lifting the table as the message says.
        expect "package: removed (exit status $(record $s remove.status))" test "$(record $s remove.status)" = 0
        if removal_says_so; then
                pass "package: the removal says what stays in force and how to lift it"
        else
                fail "package: the removal's message is missing or incomplete:"
                sed 's/^/    | /' "$LOGS/$s/remove.log"
        fi
        expect "package: after the removal the table stays in force, and the settings are kept" \
                removal_keeps
        expect "package: after the removal nothing leaves outside the VPN: $(counts removed 203.0.113.9:9003)" \
                none_left removed 203.0.113.9:9003
        expect "package: purged (exit status $(record $s purge.status)): the package and /var/lib/killswitchd are gone" \
                purged
        expect "package: the message's commands lift the table ($(tr '\n' ' ' <"$LOGS/$s/lift-commands"))" \
                lifted
        expect "package: after lifting, traffic flows: $(counts lifted 203.0.113.9:9004)" \
                all_arrived lifted 203.0.113.9:9004
}

# ---- The exec scenario's verdicts -----------------------------------------------------------

status_is() {  # FILE STATUS: the exit status a run of the checker recorded
        [[ $(record exec "$1.status") == "$2" ]]
}
verdict_exec() {
        local RECORDS=exec
        expect "exec: control: root's shell is refused outside the tunnel: $(counts control 203.0.113.9:9000)" \
                none_left control 203.0.113.9:9000
        expect "exec --exempt: the command's datagrams arrive: $(counts exempt 203.0.113.9:9001)" \
                all_arrived exempt 203.0.113.9:9001
        expect "exec --exempt: the command runs in a scope inside the listed slice ($(record exec exempt-cgroup))" \
                has exec exempt-cgroup '^0::/killswitch.slice/killswitch-exempt.slice/killswitch-exempt-[0-9]*.scope$'
        expect "exec --exempt: the slice exec made is in PresentCgroups ($(record exec present-after-exempt))" \
                has exec present-after-exempt '"killswitch.slice/killswitch-exempt.slice"'
        expect "verify: a process in the exempt slice gets out where verify is refused ($(grep exempt-app "$LOGS/exec/verify-exempt"))" \
                eval 'status_is verify-exempt 0 && has exec verify-exempt "^\[ ok \] exempt-app .* sent 1 probe(s)"'
        expect "exec: the command's exit status is exec's (7: $(record exec exit-status.status))" \
                status_is exit-status 7
        expect "exec: a command that does not exist: exit status 127 ($(record exec not-found.status))" \
                status_is not-found 127
        expect "exec, verify: no scope is left once the commands ended" \
                test ! -s "$LOGS/exec/exempt-unit"
        expect "exempt add --slice: the slice's cgroup path is listed" \
                has exec exempt-list '^killswitch.slice/killswitch-other.slice$'
        expect "Scope=cgroups applied (status $(record exec scope-apply.status))" status_is scope-apply 0
        expect "Scope=cgroups: root's shell, not scoped, is untouched: $(counts unscoped 203.0.113.9:9002)" \
                all_arrived unscoped 203.0.113.9:9002
        expect "exec --scoped: the command's datagrams are refused: $(counts scoped 203.0.113.9:9003)" \
                none_left scoped 203.0.113.9:9003
        expect "exec --scoped: the command runs in a scope inside the listed slice ($(record exec scoped-cgroup))" \
                has exec scoped-cgroup '^0::/killswitch.slice/killswitch-scoped.slice/killswitch-scoped-[0-9]*.scope$'
        expect "verify: a process in the scoped slice is refused, verify is not ($(grep scoped-app "$LOGS/exec/verify-scoped"))" \
                eval 'status_is verify-scoped 0 && has exec verify-scoped "^\[ ok \] scoped-app .* refused 1 probe(s) .* sent 1$"'
        expect "verify: at the gateway, its datagrams: the exempt process's, and verify's own in scoped mode ($(wire 192.0.2.1:9))" \
                eval '[[ $(wire 192.0.2.1:9) == 2 ]]'
        expect "exec --scoped, daemon frozen, slice new: the command is not started ($(record exec late-run)); $(counts late 203.0.113.9:9004)" \
                eval 'status_is late-run 1 && [[ ! -e $LOGS/exec/send-late && $(wire 203.0.113.9:9004) == 0 ]]'
        expect "exec --scoped: no slice in ScopedCgroups: not found (6), the command not run ($(record exec no-slice))" \
                status_is no-slice 6
        expect "exec --scoped: the kill switch disabled: refused (1), the command not run ($(record exec scoped-disabled))" \
                eval 'status_is scoped-disabled 1 && has exec scoped-disabled "disabled"'
}

for s in $SCENARIOS; do
        step "Boot: $s"
        if [[ $s == package && -z $PACKAGES_BUILT ]]; then
                continue
        fi
        if boot "$s"; then
                "verdict_$s"
        fi
done

step "Done in $(since "$T0") (logs in $LOGS)"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
