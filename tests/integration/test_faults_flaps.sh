#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# 1000 tunnel flaps (KS_FLAPS) under a flood: every 20th the VPN client
# crashes (wireguard-go kill -9, its interface gone) and is started again;
# the others set the link down and up again (wg-quick's addresses and
# routes back), staying down 0-10 ms, or 100 ms every 10th time, so that the
# flood hits the fall-back route in clear over and over.  The flood runs at
# 400 rounds a second (UDP, TCP SYN and ICMP to the internet host, UDP
# canaries to the server outside the tunnel).
#
# Checked: zero packets leak (server side); the daemon survives and its
# settings, settings.conf and table are unchanged ("settings lost": 0); at
# the end it reports the tunnel up and the tunnel carries traffic.
#
# Control: the same flood without our table (Disable) leaks.

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_flaps
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
flaps=${KS_FLAPS:-1000}

start_daemon "$KS_CLI" "$state"
pid=$KS_DAEMON_PID
expect_bus_ok "settings in force" call Apply 'a{sv}' 3 Enabled b true Tunnels as 1 "$KS_WG_CLI" \
    Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp
expect_eq "TunnelUp at the start" "$(prop TunnelUp)" true
settings0=$(settings_now) file0=$(state_digest "$state") table0=$(table_digest "$KS_CLI")

flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6" --rate 400
counters_reset

up_batch=$KS_TMP/up.batch
cat >"$up_batch" <<EOF
link set $KS_WG_CLI up
addr replace $KS_TUN_CLI_V4/24 dev $KS_WG_CLI
addr replace $KS_TUN_CLI_V6/64 dev $KS_WG_CLI nodad
route replace $KS_INET_V4/32 dev $KS_WG_CLI
route replace $KS_INET_V6/128 dev $KS_WG_CLI
EOF
kills=0 links=0 down_ms=0
t0=$(now_ms)
for ((i = 1; i <= flaps; i++)); do
    if ((i % 20 == 0)); then
        tunnel_kill
        tunnel_up
        kills=$((kills + 1))
    else
        ms=$( ((i % 10 == 0)) && echo 100 || echo $((RANDOM % 11)) )
        down_ms=$((down_ms + ms))
        tunnel_down
        sleep "$(printf '0.%03d' "$ms")"
        ip -n "$KS_CLI" -batch "$up_batch"
        links=$((links + 1))
    fi
done
elapsed=$(($(now_ms) - t0))
ks_log "# $flaps flaps in $elapsed ms: $kills crashes of wireguard-go, $links link down/up (${down_ms} ms down in all)"

ks_step "after the flaps"
expect_ok "tunnel flows again" tunnel_flows 10
seen=$(count_tunnel)
flood_stop
expect_no_leaks "$flaps tunnel flaps with a flood running"
leaks=$(count_leaks)
expect_ok "the daemon survived" daemon_alive "$pid"
wait_until 3 prop_is TunnelUp true || true
expect_eq "TunnelUp" "$(prop TunnelUp)" true
expect_eq "ActiveTunnels" "$(prop ActiveTunnels)" "[\"$KS_WG_CLI\"]"
lost=0
[[ $(settings_now) == "$settings0" ]] || { lost=$((lost + 1)); ks_fail "GetSettings changed: $(settings_now)"; }
[[ $(state_digest "$state") == "$file0" ]] || { lost=$((lost + 1)); ks_fail "settings.conf changed"; }
expect_eq "table unchanged" "$(table_digest "$KS_CLI")" "$table0"
expect_zero "settings lost" "$lost"
expect_ge "canary packets refused with EPERM" "$(flood_stat eperm)" 1000
expect_ge "packets through the tunnel (server side)" "$seen" 100
ks_log "# FIGURES flaps: flaps=$flaps kills=$kills link_flaps=$links down_ms=$down_ms leaks=$leaks settings_lost=$lost canary_eperm=$(flood_stat eperm) elapsed_ms=$elapsed"
ks_step "control: without the table the canaries leak"
control_without_table
ks_finish
