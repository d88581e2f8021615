#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# No leak while the kill switch is changed over D-Bus under load: a real
# wireguard-go tunnel, the daemon configured only through busctl, and a
# flood to the internet host (through the tunnel) plus canaries to the
# server's veth address (never in the tunnel: without the kill switch they
# leak).  Leaks are counted on the server's side of the veth.
#
# What is measured: the leak counters are reset 0.2 s after each call that
# leaves the kill switch enabled has returned (packets sent before it are
# gone by then) and read before the next call that disables it.  Inside
# those windows: Apply enabling with the tunnel and its endpoint,
# AddEndpoint/RemoveEndpoint of other endpoints, AddTunnel/RemoveTunnel of
# other names, Apply and property writes that rebuild the table, and 10
# Disable -> Enable cycles.  There, zero packets may leak and the flood must
# keep flowing through the tunnel.  While disabled the canaries must leak:
# that shows the counters would see a leak.

source "$(dirname "$0")/lib-bus.sh"
ks_bus_init test_dbus_flood
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
tun=$KS_WG_CLI
state=$KS_TMP/state
start_bus_daemon "$KS_CLI" "$state"

LEAKED=0       # over every enabled window
WINDOWS=0
TUNNEL=0       # packets from the tunnel over every enabled window

# window_open: the kill switch has been enabled by a call that returned.
window_open() { sleep 0.2; counters_reset; }
# window_close DESC: the leaks and tunnel packets since window_open.
window_close() {
    local leaks tunnel
    leaks=$(count_leaks) tunnel=$(count_tunnel)
    LEAKED=$((LEAKED + leaks)) WINDOWS=$((WINDOWS + 1)) TUNNEL=$((TUNNEL + tunnel))
    if ((leaks == 0)); then
        ks_pass "$1: 0 packets leaked; $tunnel through the tunnel"
    else
        ks_fail "$1: $leaks packets leaked ($(counters_summary))"
    fi
    expect_ge "$1: the flood flows through the tunnel" "$tunnel" 10
}
call_ok() {   # DESC METHOD ARGS...: a call that must succeed, quietly
    bus_do call "$@"
    ((BUS_RC == 0)) || ks_fail "$1: ${BUS_ERR_NAME:-busctl exit $BUS_RC}: $BUS_ERR_MSG"
}

flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"

# --------------------------------------------------------------------------
ks_step "control: disabled, the canaries leak"

counters_reset
sleep 0.5
expect_ge "canary packets leaked with the kill switch disabled" "$(count_leaks)" 20

# --------------------------------------------------------------------------
ks_step "Apply enabling with the tunnel and its endpoint"

call_ok Apply 'a{sv}' 3 Enabled b true Tunnels as 1 "$tun" \
    Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp
expect_eq "Apply" "$BUS_RC" 0
eperm0=$(flood_stat eperm)
window_open
sleep 0.5
window_close "enabled by Apply"
expect_ge "the canaries are refused (EPERM) while enabled" $(($(flood_stat eperm) - eperm0)) 20

# --------------------------------------------------------------------------
ks_step "AddEndpoint/RemoveEndpoint of other endpoints, AddTunnel/RemoveTunnel of other names"

window_open
t0=$(now_ms)
for i in $(seq 1 20); do
    call_ok AddEndpoint sqs "192.0.2.$i" 1194 udp
    call_ok AddEndpoint sqs "2001:db8::$i" 443 tcp
done
for i in $(seq 1 20); do
    call_ok RemoveEndpoint sqs "192.0.2.$i" 1194 udp
    call_ok RemoveEndpoint sqs "2001:db8::$i" 443 tcp
done
ks_log "   80 endpoint changes in $(($(now_ms) - t0)) ms"
window_close "80 endpoint changes"
window_open
t0=$(now_ms)
for i in $(seq 1 10); do call_ok AddTunnel s "vpn$i"; done
for i in $(seq 1 10); do call_ok RemoveTunnel s "vpn$i"; done
ks_log "   20 tunnel changes in $(($(now_ms) - t0)) ms"
window_close "20 tunnel changes"
expect_prop Tunnels "[\"$tun\"]"
expect_prop Endpoints "[[\"$KS_SRV_V4\",$KS_WG_PORT,\"udp\"]]"

# --------------------------------------------------------------------------
ks_step "whole-table rebuilds: Apply and property writes"

window_open
for i in $(seq 1 5); do
    endpoint_args $((i * 200)) 443
    call_ok Apply 'a{sv}' 2 Tunnels as 2 "$tun" 'vpn*' \
        Endpoints 'a(sqs)' $((i * 200 + 1)) "$KS_SRV_V4" "$KS_WG_PORT" udp "${KS_EP_ARGS[@]}"
    bus_do set AllowDhcp b false
    bus_do set AllowDhcp b true
    bus_do set Persistent b "$( ((i % 2)) && echo true || echo false)"
done
unset KS_EP_ARGS
window_close "5 Apply with 200 to 1000 endpoints, 15 property writes"
call_ok Apply 'a{sv}' 2 Tunnels as 1 "$tun" Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp

# --------------------------------------------------------------------------
ks_step "10 Disable -> Enable cycles under the flood"

disabled_leaks=0
for i in $(seq 1 10); do
    call_ok Disable
    counters_reset
    sleep 0.2
    disabled_leaks=$((disabled_leaks + $(count_leaks)))
    call_ok Enable
    window_open
    sleep 0.3
    window_close "cycle $i, enabled"
done
expect_ge "control: the canaries leaked in the disabled phases" "$disabled_leaks" 10
expect_prop Protection '"owner"'

# --------------------------------------------------------------------------
ks_step "totals"

flood_stop
ks_log "   $WINDOWS enabled windows: $LEAKED packets leaked, $TUNNEL through the tunnel; flood: $(flood_stat sent) sent, $(flood_stat eperm) refused with EPERM"
expect_zero "packets leaked over all enabled windows" "$LEAKED"

ks_finish
