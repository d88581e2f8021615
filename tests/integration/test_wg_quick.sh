#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The wg-quick hook (contrib/wg-quick/killswitch-wg as PostUp/PreDown), with
# wg-quick driving wireguard-go in the client namespace and a flood to the
# internet host running throughout.
#
# Control, wg-quick without the hooks: killing wireguard-go, and `wg-quick
# down`, send the flood in clear (packets leak).  With the hooks: `wg-quick up`
# registers the interface, its peer's endpoint and wg-quick's fwmark 51820 as
# EndpointMark, and enables the kill switch; traffic flows through the tunnel
# and nothing leaks.  wireguard-go killed: nothing leaks (and `wg-quick down`
# cannot run PreDown).  `wg-quick up` again (IPv6 endpoint, [addr]:port) while
# blocked: traffic flows.  `wg-quick down`:
# tunnel and endpoints unregistered, the kill switch stays enabled, nothing
# leaks.  Both hook actions are idempotent.  With the daemon unreachable,
# `wg-quick down` stops with a clear message (the tunnel stays up), and
# `wg-quick up` fails with a clear message and leaves no interface.

set -euo pipefail
source "$(dirname "$0")/lib-vpn.sh"
vpn_init test_wg_quick wg-quick
vpn_topology
wg=$KS_WG_CLI
ep4=$KS_SRV_V4:$KS_WG_PORT
ep6=[$KS_SRV_V6]:$KS_WG_PORT
plain=$(wgq_conf "$KS_TMP/plain" "$ep4" nohooks)
hooked=$(wgq_conf "$KS_TMP/hooked" "$ep4" hooks)
hooked6=$(wgq_conf "$KS_TMP/hooked6" "$ep6" hooks)

expect_ok "the hooks share their helpers verbatim" vpn_same_blocks

ks_step "control: wg-quick without the hooks, no kill switch"
expect_ok "wg-quick up (no hooks)" wgq "$plain" up
expect_ok "the tunnel carries traffic" tunnel_flows 8
flood_start "$KS_CLI"
vpn_window "control, tunnel up" 1 true
expect_ge "control, tunnel up: flood through the tunnel" "$W_TUN" 50
vpn_window "control, wireguard-go killed" 1 wgq_kill
expect_ge "control, wireguard-go killed: packets leaked in clear" "$W_LEAKED" 10
# As a user would: straight `wg-quick up` again (the policy rules wg-quick
# left behind are added once more, which the kernel accepts).
expect_ok "wg-quick up again (no hooks)" wgq "$plain" up
expect_ok "the tunnel carries traffic again" tunnel_flows 8
vpn_window "control, wg-quick down" 1 wgq "$plain" down
expect_zero "control: wg-quick down exit status" "$W_RC"
expect_ge "control, wg-quick down: packets leaked in clear" "$W_LEAKED" 10
expect_settings "control" "enabled=false tunnels=- endpoints=- mark=0"

ks_step "wg-quick up with the hooks"
expect_ok "wg-quick up runs PostUp" wgq "$hooked" up
grep -h 'killswitch-wg' "$WGQ_LOG" | sed 's/^/   /' || true
expect_settings "after wg-quick up" "enabled=true tunnels=$wg endpoints=$ep4/udp mark=51820"
expect_ok "the tunnel carries traffic through the kill switch (wireguard-go marks 51820)" tunnel_flows 8
vpn_window "kill switch, tunnel up" 1 true
expect_ge "kill switch, tunnel up: flood through the tunnel" "$W_TUN" 50
expect_zero "kill switch, tunnel up: packets leaked" "$W_LEAKED"
before=$(ksv_settings)
expect_ok "killswitch-wg up a second time succeeds" in_ns "$KS_CLI" "$KS_HOOK_WG" up "$wg"
expect_eq "killswitch-wg up twice: settings unchanged" "$(ksv_settings)" "$before"

ks_step "wireguard-go killed with the kill switch"
vpn_window "kill switch, wireguard-go killed" 1 wgq_kill
expect_zero "kill switch, wireguard-go killed: packets leaked" "$W_LEAKED"
expect_ge "kill switch, wireguard-go killed: packets refused with EPERM" "$W_EPERM" 50
expect_settings "after the crash (no hook ran)" "enabled=true tunnels=$wg endpoints=$ep4/udp mark=51820"

ks_step "wg-quick up again while blocked, IPv6 endpoint $ep6"
expect_not "wg-quick down after the crash fails (no interface), so PreDown cannot run" wgq "$hooked" down
expect_ok "wg-quick up runs PostUp" wgq "$hooked6" up
# The IPv4 endpoint is still remembered from before the crash: `down` removes both.
expect_settings "after wg-quick up" "enabled=true tunnels=$wg endpoints=$ep4/udp,$ep6/udp mark=51820"
counters_reset
expect_ok "the tunnel carries traffic again" tunnel_flows 12
expect_ge "WireGuard packets to the IPv6 endpoint" "$(count endpoint6)" 1
vpn_window "kill switch, tunnel up (IPv6 endpoint)" 1 true
expect_ge "kill switch, tunnel up: flood through the tunnel" "$W_TUN" 50
expect_zero "kill switch, tunnel up: packets leaked" "$W_LEAKED"

ks_step "wg-quick down: the kill switch stays enabled"
vpn_window "kill switch, wg-quick down" 1 wgq "$hooked6" down
expect_zero "wg-quick down exit status" "$W_RC"
grep -h 'killswitch-wg' "$WGQ_LOG" | sed 's/^/   /' || true
expect_settings "after wg-quick down" "enabled=true tunnels=- endpoints=- mark=0"
expect_zero "kill switch, wg-quick down: packets leaked" "$W_LEAKED"
expect_ge "kill switch, wg-quick down: packets refused with EPERM" "$W_EPERM" 50
expect_ok "killswitch-wg down a second time succeeds" in_ns "$KS_CLI" "$KS_HOOK_WG" down "$wg"
expect_settings "down twice" "enabled=true tunnels=- endpoints=- mark=0"
flood_stop

ks_step "killswitchd unreachable at PreDown: wg-quick down stops, the tunnel stays up"
expect_ok "wg-quick up" wgq "$hooked" up
rc=0
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$KS_TMP/no-bus wgq "$hooked" down || rc=$?
expect_ok "wg-quick down fails (exit status $rc)" test "$rc" -ne 0
expect_ok "it says why" grep -q 'killswitch-wg: error: cannot reach killswitchd' "$WGQ_LOG"
expect_not "the interface is still there" ks_link_absent "$KS_CLI" "$wg"
expect_ok "wg-quick down once killswitchd answers" wgq "$hooked" down
expect_settings "after down" "enabled=true tunnels=- endpoints=- mark=0"

ks_step "killswitchd unreachable: wg-quick up fails and leaves nothing up"
rc=0
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$KS_TMP/no-bus wgq "$hooked" up || rc=$?
expect_ok "wg-quick up fails (exit status $rc)" test "$rc" -ne 0
msg=$(grep -m1 'killswitch-wg: error' "$WGQ_LOG" || true)
expect_ok "it says why: ${msg:0:160}" grep -q 'cannot reach killswitchd' "$WGQ_LOG"
expect_ok "wg-quick removed the interface" wait_until 5 ks_link_absent "$KS_CLI" "$wg"
expect_eq "no wireguard-go left" "$(wgq_find_pid)" ""
expect_settings "unchanged" "enabled=true tunnels=- endpoints=- mark=0"

ks_finish
