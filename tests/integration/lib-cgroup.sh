# SPDX-License-Identifier: LGPL-2.1-or-later
# cgroup v2 for the per-application tests: a cgroup2 hierarchy mounted where the test can see it
# from inside `ip netns exec` (which mounts a fresh /sys), cgroups of the test's own under it,
# and processes started in them.  Sourced after lib.sh.

# cgroup_mount: cgroup2 at $KS_TMP/cgroup2 (KS_CG_ROOT): the machine's one hierarchy (a second
# mount shows the same), whatever /sys/fs/cgroup is (v1, hybrid or unified).  The test's cgroups
# go under KS_CG_BASE, the cgroup of the slice unit KS_CG_SLICE (ks-ID.slice, in ks.slice as
# systemd nests it), removed at the end with the mount.
cgroup_mount() {
    KS_CG_ROOT=$KS_TMP/cgroup2
    KS_CG_SLICE=ks-$KS_ID
    KS_CG_BASE=ks.slice/$KS_CG_SLICE.slice
    mkdir -p "$KS_CG_ROOT"
    mount -t cgroup2 none "$KS_CG_ROOT" || ks_die "cannot mount cgroup2"
    mkdir -p "$KS_CG_ROOT/$KS_CG_BASE"
    KS_CLEANUP+=(cgroup_unmount)
}

# Every process still in the test's cgroups is the test's own: killed; then the cgroups go,
# deepest first, and the mount.
cgroup_unmount() {
    local dir pid
    [[ -d $KS_CG_ROOT/$KS_CG_BASE ]] || return 0
    while read -r dir; do
        while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$dir/cgroup.procs"
    done < <(find "$KS_CG_ROOT/$KS_CG_BASE" -depth -type d)
    while read -r dir; do
        wait_until 2 rmdir "$dir" 2>/dev/null || true
    done < <(find "$KS_CG_ROOT/$KS_CG_BASE" -depth -type d)
    rmdir "$KS_CG_ROOT/ks.slice" 2>/dev/null || true  # unless another test's is in it
    umount "$KS_CG_ROOT"
}

cgroup_make() { mkdir -p "$KS_CG_ROOT/$1"; }
# cgroup_remove PATH: once its processes are gone (the probes end by themselves).
cgroup_remove() { wait_until 5 rmdir "$KS_CG_ROOT/$1"; }
cgroup_id() { stat -c %i "$KS_CG_ROOT/$1"; }
# cpu_ticks PID: the CPU time the process has used, user and system, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# in_cgroup PATH CMD...: CMD (and what it starts) in the cgroup.
in_cgroup() {
    local dir=$KS_CG_ROOT/$1; shift
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$dir" "$@"
}

# The ids in one of the daemon's cgroup sets, sorted, space separated.  The elements are the
# kernel's host-order 64-bit ids; nft(8), which cannot name them by path from inside
# `ip netns exec` (no cgroup2 under its /sys), prints some of them with the bytes the other way
# round.  The ids here are below 2^32 (kernfs numbers its nodes from 1), so a larger number is
# one printed so, and is turned back.
cgroup_set_ids() {
    in_ns "$KS_CLI" nft -j list set inet killswitchd "$1" | "$KS_PY" -c '
import json, struct, sys
def host(n):
    return struct.unpack("<Q", struct.pack(">Q", n))[0] if n >= 1 << 32 else n
for o in json.load(sys.stdin)["nftables"]:
    if "set" in o:
        print(" ".join(str(e) for e in sorted(host(int(e)) for e in o["set"].get("elem", []))))'
}
cgroup_set_is() { [[ $(cgroup_set_ids "$1") == "$2" ]]; }

# expect_set DESC SET PATH...: within 2 s, the set holds exactly the PATHs' ids ("": nothing).
expect_set() {
    local desc=$1 set=$2 want p; shift 2
    want=$(for p in "$@"; do if [[ -n $p ]]; then cgroup_id "$p"; fi; done | sort -n)
    want=${want//$'\n'/ }
    wait_until 2 cgroup_set_is "$set" "$want" || true
    expect_eq "$desc" "$(cgroup_set_ids "$set")" "$want"
}


# systemd_start: a stand-in for systemd's StartTransientUnit on the test's bus (ksbus.py
# systemd), making scopes under KS_CG_ROOT, for `killswitchctl exec`.  systemd_freeze PID: the
# next StartTransientUnit stops PID (SIGSTOP) before it moves anything.
systemd_start() {
    KS_SYSTEMD_FREEZE=$KS_TMP/systemd.freeze
    rm -f "$KS_SYSTEMD_FREEZE"
    ks_spawn KS_SYSTEMD_PID "$KS_TMP/systemd.log" "$KS_PY" "$KS_BUSPY" systemd \
        --address "$DBUS_SYSTEM_BUS_ADDRESS" --cgroup-root "$KS_CG_ROOT" \
        --freeze-file "$KS_SYSTEMD_FREEZE" --log "$KS_TMP/systemd.calls"
    wait_until 5 bus_has_name org.freedesktop.systemd1 || ks_die "systemd stand-in did not start"
}
systemd_freeze() { echo "$1" >"$KS_SYSTEMD_FREEZE"; }
systemd_thaw() { rm -f "$KS_SYSTEMD_FREEZE"; }
