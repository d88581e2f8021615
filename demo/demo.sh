#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# killswitchd demo: a client sends a steady stream of packets to an
# "internet host" through a WireGuard tunnel.  The tunnel dies twice: once
# without the kill switch (packets leak in clear), once with it (none do).
# Everything happens in network namespaces created and removed here; the
# machine's own network is not touched.  Needs root; runs in ~20 s.
#
#   sudo KILLSWITCHD=build/src/killswitchd demo/demo.sh

set -euo pipefail
export KS_QUIET=1
# shellcheck source=../tests/integration/lib.sh
source "$(dirname "$0")/../tests/integration/lib.sh"

if [[ -t 1 ]]; then
    B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
    B='' G='' R='' N=''
fi
say() { printf '%s\n' "$*"; }
chapter() { printf '\n%s[%s]%s %s\n' "$B" "$1" "$N" "$2"; }

# --------------------------------------------------------------------------
# ks_configure: the one place where the demo talks to killswitchd, the way a
# VPN client does: over D-Bus (a private bus standing in for the system bus).
ks_configure() {
    [[ -n ${KS_DAEMON_PID:-} ]] || start_daemon "$KS_CLI" "$KS_TMP/state"
    say "    \$ busctl call org.killswitchd.KillSwitch1 /org/killswitchd/KillSwitch1 \\"
    say "        org.killswitchd.KillSwitch1 Apply 'a{sv}' 4 Enabled b true Persistent b true \\"
    say "        Tunnels as 1 $KS_WG_CLI Endpoints 'a(sqs)' 1 $KS_SRV_V4 $KS_WG_PORT udp"
    busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" call org.killswitchd.KillSwitch1 \
        /org/killswitchd/KillSwitch1 org.killswitchd.KillSwitch1 Apply 'a{sv}' 4 \
        Enabled b true Persistent b true Tunnels as 1 "$KS_WG_CLI" \
        Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp
}
ks_ctl() { DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS NO_COLOR=1 "$KILLSWITCHCTL" "$@" | sed 's/^/    /'; }
# --------------------------------------------------------------------------

# measure SECONDS: packets the flood sent, refused (EPERM), leaked in clear
# (to the internet host, over the veth) and carried by the tunnel.
measure() {
    local sent0 eperm0 sent1 eperm1
    sent0=$(flood_stat sent) eperm0=$(flood_stat eperm)
    counters_reset
    sleep "$1"
    LEAKED=$(count_clear_inet)
    TUNNELED=$(count_tunnel)
    sent1=$(flood_stat sent) eperm1=$(flood_stat eperm)
    SENT=$((sent1 - sent0)) REFUSED=$((eperm1 - eperm0))
}
leaked() {   # colour the leak count: red when anything leaked
    if ((LEAKED)); then printf '%s%d leaked%s' "$R" "$LEAKED" "$N"; else printf '%s0 leaked%s' "$G" "$N"; fi
}

ks_init demo
say "${B}killswitchd demo${N}: a VPN kill switch enforced by the kernel (nftables)"

chapter 1 "Building a small network in namespaces"
topo_create
tunnel_up
tunnel_flows 10 || ks_die "the tunnel does not carry traffic"
say "    client ($KS_CLI_V4) --veth-- server ($KS_SRV_V4), WireGuard tunnel $KS_WG_CLI on top,"
say "    and an internet host $KS_INET_V4 / $KS_INET_V6 reached through the tunnel."
say "    Every packet for the internet host that arrives at the server in clear"
say "    (on the veth, not through the tunnel) is counted as leaked."

chapter 2 "The client sends ~240 packets/s (UDP, TCP, ICMP; IPv4 and IPv6)"
flood_start "$KS_CLI"
measure 1
say "    in 1 s: $TUNNELED packets arrived through the tunnel, $(leaked)"

chapter 3 "No kill switch yet. The VPN client crashes (kill -9 wireguard-go)"
tunnel_kill
measure 2
say "    in 2 s: $SENT sent, routes fell back to the veth: $(leaked) in clear"
tunnel_up
tunnel_flows 10 || ks_die "the tunnel does not come back"
say "    (VPN client restarted)"

chapter 4 "Kill switch on: killswitchd installs table inet killswitchd"
ks_configure
measure 1
say "    in 1 s: $TUNNELED packets arrived through the tunnel, $(leaked)"

chapter 5 "The VPN client crashes again"
tunnel_kill
measure 2
say "    in 2 s: $SENT sent, all dropped by the kernel ($REFUSED with EPERM, TCP SYNs silently), $(leaked)"

chapter 6 "The VPN client comes back"
tunnel_up
tunnel_flows 10 || ks_die "the tunnel does not come back"
measure 1
say "    in 1 s: $TUNNELED packets arrived through the tunnel, $(leaked)"
say "    \$ killswitchctl status"
ks_ctl status
say "    \$ killswitchctl verify"
ks_ctl verify || ks_die "killswitchctl verify failed"

chapter 7 "killswitchd itself crashes (kill -9); the VPN client crashes too"
kill_daemon "$KS_DAEMON_PID"
tunnel_kill
measure 2
say "    table still there: $(table_present "$KS_CLI" && echo yes || echo NO)"
say "    in 2 s: $SENT sent, all dropped by the kernel ($REFUSED with EPERM, TCP SYNs silently), $(leaked)"
tunnel_up
start_daemon "$KS_CLI" "$KS_TMP/state"
tunnel_flows 10 || ks_die "the tunnel does not come back"
measure 1
say "    new killswitchd re-took the table; in 1 s: $TUNNELED through the tunnel, $(leaked)"

flood_stop
chapter 8 "Cleaning up: processes stopped, namespaces and temp files removed"
