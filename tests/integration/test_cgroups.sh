#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Per-application rules on cgroup v2 (docs/per-app.md), with real packets counted at the
# server.  ExemptCgroups: a process in a listed cgroup (or below it, or a child of it)
# reaches outside the tunnel and gets its replies, while every other process leaks nothing;
# a cgroup listed before it exists opens nothing until it appears, and is followed when it
# goes and comes back; a process moved out loses the exemption for its new sockets; a daemon
# killed with -9 leaves the exemption as it was and lets no new cgroup in.  Scope=cgroups:
# only the scoped cgroups are held, the rest of the machine is untouched.  killswitchctl exec,
# against a stand-in for systemd's StartTransientUnit: the command starts in a scope of the
# listed slice, and not before the daemon matches that slice (PresentCgroups).  killswitchctl
# verify puts a process of its own into each listed slice and proves both modes live.

set -euo pipefail
source "$(dirname "$0")/lib-bus.sh"
source "$(dirname "$0")/lib-cgroup.sh"
ks_bus_init test_cgroups
cgroup_mount
topo_create
tunnel_up
state=$KS_TMP/state
base=$KS_CG_BASE
exempt=$base/exempt.scope
other=$base/other.scope
cgroup_make "$other"

# The server's veth address is outside the tunnel and no endpoint: only an exemption lets a
# packet reach it.  TCP to a closed port comes back as a RST: a reply that must get in.
outside_arrives() {
    local desc=$1 cg=$2
    KS_IN_CGROUP=$cg expect_arrives "$desc" "$KS_CLI" udp "$KS_SRV_V4" 9 veth
    KS_IN_CGROUP=$cg expect_arrives "$desc" "$KS_CLI" udp "$KS_SRV_V6" 9 veth
    KS_IN_CGROUP=$cg probe "$KS_CLI" tcp "$KS_SRV_V4" 9 --count 1 --timeout 2
    expect_ge "$desc: TCP to $KS_SRV_V4 port 9 answered (the reply got in)" "$PROBE_REPLIED" 1
}
outside_blocked() {
    local desc=$1 cg=$2
    KS_IN_CGROUP=$cg expect_blocked "$desc" "$KS_CLI" udp "$KS_SRV_V4" 9
    KS_IN_CGROUP=$cg expect_blocked "$desc" "$KS_CLI" udp "$KS_SRV_V6" 9
    KS_IN_CGROUP=$cg expect_blocked "$desc" "$KS_CLI" tcp "$KS_SRV_V4" 9
}

ks_step "control: without the kill switch, a process in a cgroup of the test reaches outside"
outside_arrives "control, $other" "$other"

ks_step "ExemptCgroups names $exempt before it exists: it opens nothing"
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp" \
    "ExemptCgroup=$exempt"
expect_set "the exempt set is empty" exempt_cgroups ""
wait_prop PresentCgroups "[]"
outside_blocked "no exemption yet, $other" "$other"
KS_IN_CGROUP=$other expect_arrives "the tunnel still carries $other's traffic" "$KS_CLI" udp \
    "$KS_INET_V4" 9 tun

ks_step "the cgroup appears: the daemon adds it, its processes reach outside, no one else"
cgroup_make "$exempt"
expect_set "the daemon added $exempt's id" exempt_cgroups "$exempt"
wait_prop PresentCgroups "[\"$exempt\"]"
outside_arrives "exempt" "$exempt"
outside_blocked "not exempt, $other" "$other"
KS_IN_CGROUP=$exempt probe "$KS_CLI" icmp "$KS_SRV_V4" 0 --count 3 --timeout 1 --until-reply
expect_ge "exempt: ping $KS_SRV_V4 answered" "$PROBE_REPLIED" 1

ks_step "descendants and children inherit it"
cgroup_make "$exempt/sub/deeper"
outside_arrives "exempt, two levels below" "$exempt/sub/deeper"
# The probe is the grandchild of the process put into the cgroup.
counters_reset
in_cgroup "$exempt" sh -c "ip netns exec $KS_CLI sh -c '$KS_PY $KS_NET probe --proto udp \
    --dst $KS_SRV_V4 --port 9 --sport $KS_PROBE_PORT --count 3 >/dev/null'"
expect_ok "a grandchild's datagrams arrive" wait_until 2 ks_counted veth_probe4

ks_step "a process moved out of the exempt cgroup: its new sockets are held again"
counters_reset
in_cgroup "$exempt" sh -c "echo \$\$ >$KS_CG_ROOT/$other/cgroup.procs && exec ip netns exec \
    $KS_CLI $KS_PY $KS_NET probe --proto udp --dst $KS_SRV_V4 --port 9 --sport $KS_PROBE_PORT \
    --count 3 >$KS_TMP/moved.out"
sleep 0.3
expect_zero "datagrams of the moved process at the server" "$(count veth_probe4)"
expect_ok "the moved process got EPERM" grep -q "eperm=3" "$KS_TMP/moved.out"

ks_step "the cgroup goes: its id leaves the set; made again, the new one is added"
cgroup_remove "$exempt/sub/deeper"
cgroup_remove "$exempt/sub"
cgroup_remove "$exempt"
expect_set "the exempt set is empty again" exempt_cgroups ""
wait_prop PresentCgroups "[]"
cgroup_make "$exempt"
expect_set "the new $exempt is added" exempt_cgroups "$exempt"
wait_prop PresentCgroups "[\"$exempt\"]"
outside_arrives "exempt again" "$exempt"
# Nothing changes now, so the daemon sleeps: answering the reports of its own moves of the
# watches once kept it looking again at full speed (a clock tick is 10 ms).
ticks=$(cpu_ticks "$KS_DAEMON_PID"); sleep 2
expect_le "the daemon's CPU time over 2 s with the cgroup listed, in clock ticks" \
    $(($(cpu_ticks "$KS_DAEMON_PID") - ticks)) 20

ks_step "the hierarchy's mount point leaves the daemon's view: it still follows the listed cgroups"
# The daemon follows the first cgroup2 mount it finds. That mount can go while the hierarchy
# stays (another program's second mount, unmounted and removed), and did in a CI run: the
# daemon's watches went with it and it missed a slice made later. Here the daemon's mount is
# detached in the daemon's own mount namespace, the one `ip netns exec` made for it.
[[ $(readlink "/proc/$KS_DAEMON_PID/ns/mnt") != $(readlink /proc/self/ns/mnt) ]] ||
    ks_die "the daemon shares this mount namespace: not detaching anything there"
# The mount points of the whole hierarchy (root "/") in the daemon's view, first first.
daemon_cgroup2_mounts() { awk '$4 == "/" && / - cgroup2 / { print $5 }' "/proc/$KS_DAEMON_PID/mountinfo"; }
cg_mount=$(daemon_cgroup2_mounts | head -n 1)
[[ -n $cg_mount ]] || ks_die "no cgroup2 mount in the daemon's view"
nsenter --mount="/proc/$KS_DAEMON_PID/ns/mnt" umount -l "$cg_mount"
expect_not "control: $cg_mount, where the daemon found the hierarchy, no longer shows it" \
    grep -qxF "$cg_mount" <(daemon_cgroup2_mounts)
cgroup_remove "$exempt"
expect_set "mount detached: $exempt removed, its id leaves the set" exempt_cgroups ""
cgroup_make "$exempt"
expect_set "mount detached: $exempt made again, its id is added" exempt_cgroups "$exempt"
wait_prop PresentCgroups "[\"$exempt\"]"

ks_step "killswitchctl verify: the table, exempt cgroup's id included, is what the settings ask"
# verify sends probes of its own: always from inside the client's namespace.
rc=0; in_ns "$KS_CLI" "$KILLSWITCHCTL" verify >"$KS_TMP/verify.out" 2>&1 </dev/null || rc=$?
expect_eq "verify passes with an exempt cgroup" "$rc" 0
expect_ok "verify names the exempt cgroup" grep -q "1 of 1 exempt cgroup" "$KS_TMP/verify.out"
expect_ok "no slice listed: the live exempt check is not tried (a warning)" \
    grep -q "^\[warn\] exempt-app  *not tried: ExemptCgroups names no slice" "$KS_TMP/verify.out"

ks_step "killswitchctl exempt add, list, remove"
expect_eq "exempt list" "$("$KILLSWITCHCTL" exempt list </dev/null)" "$exempt"
expect_ok "exempt add $other" "$KILLSWITCHCTL" exempt add "$other"
expect_set "$other is added beside $exempt" exempt_cgroups "$exempt" "$other"
outside_arrives "exempt by killswitchctl, $other" "$other"
rc=0; "$KILLSWITCHCTL" exempt add /absolute.slice >/dev/null 2>&1 </dev/null || rc=$?
expect_eq "exempt add of an absolute path: invalid arguments (5)" "$rc" 5
expect_ok "exempt remove $other" "$KILLSWITCHCTL" exempt remove "$other"
outside_blocked "no longer exempt, $other" "$other"

ks_step "killswitchctl exec --exempt: a scope in the listed slice, exempt from its first packet"
systemd_start
xslice=$KS_CG_SLICE-exempt.slice
xpath=$KS_CG_BASE/$xslice
expect_ok "exempt add --slice=$xslice" "$KILLSWITCHCTL" exempt add --slice="$xslice"
expect_eq "the slice's cgroup path is listed" "$("$KILLSWITCHCTL" exempt list </dev/null | tail -n 1)" "$xpath"
KS_IN_EXEC=--exempt expect_arrives "exec --exempt" "$KS_CLI" udp "$KS_SRV_V4" 9 veth
KS_IN_EXEC=--exempt expect_arrives "exec --exempt" "$KS_CLI" udp "$KS_SRV_V6" 9 veth
expect_ok "systemd was asked for a scope in $xslice holding the caller" \
    grep -q "\"Slice\": \"$xslice\", \"PIDs\": \[[0-9]*\]" "$KS_TMP/systemd.calls"
wait_prop PresentCgroups "[\"$exempt\",\"$xpath\"]"

ks_step "killswitchctl verify tries the exemption with a live process in $xslice"
# The process in the slice and verify itself each send a datagram per family to 192.0.2.1 and
# 2001:db8::1 on vethc: the server must count the exempt one's, and only it (leak counters).
counters_reset
rc=0; in_ns "$KS_CLI" "$KILLSWITCHCTL" verify >"$KS_TMP/verify.out" 2>&1 </dev/null || rc=$?
expect_eq "verify passes" "$rc" 0
expect_ok "exempt-app: the process in the slice got out where verify was refused" \
    grep -q "^\[ ok \] exempt-app  *a process in $xpath sent 2 probe(s)" "$KS_TMP/verify.out"
expect_eq "at the server: one datagram per family, the exempt process's" \
    "$(count leak4_udp leak6_udp)" 2
expect_ok "systemd was asked for a scope in $xslice for the probes" \
    grep -q "\"name\": \"killswitch-verify-exempt-[0-9]*.scope\".*\"Slice\": \"$xslice\"" \
    "$KS_TMP/systemd.calls"
# Something other than the kill switch refuses the exempt process: verify must say so and fail.
in_ns "$KS_CLI" nft -f - <<EOF
table inet ksforeign {
    chain output {
        type filter hook output priority 10; policy accept;
        ip daddr 192.0.2.1 udp dport 9 drop
        ip6 daddr 2001:db8::1 udp dport 9 drop
    }
}
EOF
rc=0; in_ns "$KS_CLI" "$KILLSWITCHCTL" verify >"$KS_TMP/verify.out" 2>&1 </dev/null || rc=$?
in_ns "$KS_CLI" nft delete table inet ksforeign
expect_eq "control: another firewall refuses the exempt process: verify fails" "$rc" 1
expect_ok "control: exempt-app says the refusal was not the kill switch's" \
    grep -q "^\[FAIL\] exempt-app  *4 probe(s) refused, but not by the kill switch" \
    "$KS_TMP/verify.out"
# Without systemd, no process can be put into the slice: not proven, a warning (--strict: 1).
rc=0; in_ns "$KS_CLI" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=$KS_TMP/no-such-bus \
    "$KILLSWITCHCTL" --address="$DBUS_SYSTEM_BUS_ADDRESS" verify --strict \
    >"$KS_TMP/verify.out" 2>&1 </dev/null || rc=$?
expect_eq "systemd unreachable: verify --strict fails on the warning" "$rc" 1
expect_ok "systemd unreachable: exempt-app not tried" \
    grep -q "^\[warn\] exempt-app  *not tried: systemd is not reachable" "$KS_TMP/verify.out"
KS_IN_EXEC=--scoped probe "$KS_CLI" udp "$KS_SRV_V4" 9 --count 1 --timeout 0.1
expect_eq "exec --scoped with no slice in ScopedCgroups: the command does not run (no output)" "$PROBE_LINE" ""

ks_step "kill -9 of the daemon: the exemption stays as it was; a cgroup made meanwhile is not let in"
ks_stop_pid "$KS_DAEMON_PID" KILL
KS_DAEMON_PID=
outside_arrives "exempt, daemon dead" "$exempt"
outside_blocked "not exempt, daemon dead" "$other"
cgroup_remove "$exempt"
cgroup_make "$exempt"
outside_blocked "$exempt made again while the daemon is dead" "$exempt"
start_daemon "$KS_CLI" "$state"
expect_set "the restarted daemon adds it" exempt_cgroups "$exempt" "$xpath"
outside_arrives "exempt, daemon restarted" "$exempt"

ks_step "Scope=cgroups: only the scoped cgroup is held; the rest of the machine is untouched"
scoped=$base/scoped.scope
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp" \
    Scope=cgroups "ScopedCgroup=$scoped"
outside_arrives "unscoped, $other" "$other"
cgroup_make "$scoped"
expect_set "the daemon added $scoped's id" scoped_cgroups "$scoped"
wait_prop PresentCgroups "[\"$scoped\"]"
outside_blocked "scoped" "$scoped"
KS_IN_CGROUP=$scoped expect_arrives "scoped, into the tunnel" "$KS_CLI" udp "$KS_INET_V4" 9 tun
cgroup_make "$scoped/child.scope"
outside_blocked "scoped, a cgroup below" "$scoped/child.scope"
rc=0; in_ns "$KS_CLI" "$KILLSWITCHCTL" verify >"$KS_TMP/verify.out" 2>&1 </dev/null || rc=$?
expect_eq "verify passes with Scope=cgroups (its probes are not scoped: a warning)" "$rc" 0
expect_ok "verify says what Scope=cgroups holds" grep -q "Scope cgroups" "$KS_TMP/verify.out"

ks_step "killswitchctl exec --scoped: the command starts only once the daemon matches the slice"
sslice=$KS_CG_SLICE-scoped.slice
spath=$KS_CG_BASE/$sslice
printf '{"ScopedCgroups": ["%s", "%s"]}' "$scoped" "$spath" >"$KS_TMP/scoped.json"
expect_ok "ScopedCgroups gets the slice $sslice" "$KILLSWITCHCTL" apply "$KS_TMP/scoped.json"
# systemd makes the slice, and the daemon is frozen before it can see it: a process in the slice
# leaves unheld (the control), and exec, waiting for the daemon to match the slice, never starts
# its command.
systemd_freeze "$KS_DAEMON_PID"
counters_reset
# Ports 10 and 11: the connection to port 9 is one the scoped probes above marked (the mark, once
# set, stays with the connection and holds whoever sends on it).
KS_IN_EXEC=--scoped probe "$KS_CLI" udp "$KS_SRV_V4" 11 --count 3 --timeout 0.1
expect_eq "daemon frozen: exec --scoped does not start the command (no probe output)" "$PROBE_LINE" ""
expect_zero "daemon frozen: datagrams of exec --scoped at the server" "$(count veth_probe4)"
systemd_thaw
cgroup_make "$spath/control.scope"
KS_IN_CGROUP=$spath/control.scope expect_arrives \
    "control: daemon frozen, a process in the new slice is not held yet" "$KS_CLI" udp "$KS_SRV_V4" 10 veth
kill -CONT "$KS_DAEMON_PID"
wait_prop PresentCgroups "[\"$scoped\",\"$spath\"]"
KS_IN_EXEC=--scoped expect_blocked "exec --scoped, the daemon back" "$KS_CLI" udp "$KS_SRV_V4" 9
KS_IN_EXEC=--scoped expect_arrives "exec --scoped, into the tunnel" "$KS_CLI" udp "$KS_INET_V4" 9 tun

ks_step "killswitchctl verify tries Scope=cgroups with a live process in $sslice"
# The scoped process must be refused on vethc, verify itself (not scoped) not: the server counts
# verify's datagrams and nothing of the scoped one's.
counters_reset
rc=0; in_ns "$KS_CLI" "$KILLSWITCHCTL" verify >"$KS_TMP/verify.out" 2>&1 </dev/null || rc=$?
expect_eq "verify passes" "$rc" 0
expect_ok "scoped-app: the process in the slice was refused, verify was not" \
    grep -q "^\[ ok \] scoped-app  *a process in $spath was refused 2 probe(s) outside the tunnels; this one, not scoped, sent 2" \
    "$KS_TMP/verify.out"
expect_eq "at the server: one datagram per family, verify's own" "$(count leak4_udp leak6_udp)" 2

ks_finish
