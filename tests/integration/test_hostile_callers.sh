#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Hostile local callers, on a bus with a system bus's policy and the
# project's installed policy file (systemd/org.killswitchd.KillSwitch1.conf)
# included as is:
#
#   - before the daemon runs, a user other than root cannot take the name
#     org.killswitchd.KillSwitch1 (a squatter would receive every VPN
#     client's calls), nor org.freedesktop.PolicyKit1 (a fake polkit would
#     authorize itself); root can take the daemon's name;
#   - the daemon (root) takes its name; the unprivileged user cannot take
#     it over (RequestName with REPLACE_EXISTING), the daemon keeps it;
#   - the unprivileged user may read (properties, GetSettings,
#     introspection), but every method that changes something, Verify, and
#     every property write is refused with AccessDenied, without polkit on
#     the bus and with a polkit that says no; nothing changes (table,
#     settings.conf, GetSettings); writes to read-only properties are
#     refused too;
#   - control: with a polkit that says yes, the same user's change is
#     accepted (the refusals above are the authorization's, not the bus's).

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_hostile_callers
netns_client
state=$KS_TMP/state
mkdir -p "$state"
start_policy_bus
chmod o+x "$KS_TMP"   # the bus socket, for the unprivileged user

# request_name NAME FLAGS: RequestName as KS_BUS_RUNAS (busctl exits, and
# the name is released, right after).
request_name() {
    bus_try call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su "$1" "$2"
}
# The error name of RequestName's reply, from busctl's debug log (bus_try
# only looks for replies from the daemon).
request_error() {
    sed -n 's/^Got message type=error .* error-name=\([^ ]*\) .*/\1/p' "$KS_TMP/busctl.err" | tail -n 1
}
expect_name_denied() {   # DESC NAME FLAGS (as nobody)
    local err
    as_nobody request_name "$2" "$3"
    err=$(request_error)
    if ((BUS_RC != 0)) && [[ $err == "$KS_E_DENIED" ]]; then
        ks_pass "$1: $err"
    else
        ks_fail "$1: got rc=$BUS_RC ${err:-no error} ${BUS_OUT:-} ${BUS_ERR_MSG:-}"
    fi
}

ks_step "before the daemon runs: who may take the names"
expect_name_denied "nobody cannot own $KS_BUS_NAME" "$KS_BUS_NAME" 0
expect_name_denied "nobody cannot own $KS_BUS_NAME (REPLACE_EXISTING)" "$KS_BUS_NAME" 2
expect_name_denied "nobody cannot own org.freedesktop.PolicyKit1" org.freedesktop.PolicyKit1 0
request_name "$KS_BUS_NAME" 0
expect_eq "root can own $KS_BUS_NAME (RequestName reply)" "$BUS_OUT" "u 1"

ks_step "the daemon takes its name"
start_daemon "$KS_CLI" "$state"
expect_ok "the daemon (pid $KS_DAEMON_PID) owns $KS_BUS_NAME" bus_owned_by "$KS_DAEMON_PID"
expect_bus_ok "settings in force" call Apply 'a{sv}' 4 Enabled b true Tunnels as 2 wg0 'tun*' \
    Endpoints 'a(sqs)' 2 10.200.0.1 51820 udp 2001:db8:200::1 443 tcp AllowLan b false
expect_name_denied "nobody cannot take it over (REPLACE_EXISTING)" "$KS_BUS_NAME" 2
expect_name_denied "nobody cannot queue for it" "$KS_BUS_NAME" 0
expect_ok "the daemon still owns $KS_BUS_NAME" bus_owned_by "$KS_DAEMON_PID"

SNAP_TABLE=$(table_digest "$KS_CLI") SNAP_STATE=$(state_digest "$state") SNAP_SETTINGS=$(settings_now)
SNAP_SAVED=$(settings_digest "$state")
expect_all_unchanged() {   # LABEL
    expect_eq "$1: table unchanged" "$(table_digest "$KS_CLI")" "$SNAP_TABLE"
    expect_eq "$1: settings.conf unchanged" "$(state_digest "$state")" "$SNAP_STATE"
    expect_eq "$1: GetSettings unchanged" "$(settings_now)" "$SNAP_SETTINGS"
}

ks_step "nobody may read"
reads() {
    local p
    for p in Enabled Persistent Tunnels Endpoints EndpointMark AllowLan AllowDhcp TunnelUp \
             ActiveTunnels LanSubnets PresentCgroups BlockedPackets Protection Version; do
        expect_bus_ok "nobody reads $p" get "$p"
    done
    expect_bus_ok "nobody calls GetSettings" call GetSettings
    expect_bus_ok "nobody introspects" introspect
    bus_try call "$KS_BUS_NAME" "$KS_BUS_PATH" org.freedesktop.DBus.Properties GetAll s "$KS_BUS_IFACE"
    expect_eq "nobody calls GetAll (exit status)" "$BUS_RC" 0
}
as_nobody reads

# Every change the API offers, each valid: only the caller's identity is wrong.
changes() {   # LABEL
    local p
    expect_bus_error "$1: Enable" "$KS_E_DENIED" "" call Enable
    expect_bus_error "$1: Disable" "$KS_E_DENIED" "" call Disable
    expect_bus_error "$1: Apply" "$KS_E_DENIED" "" call Apply 'a{sv}' 1 Enabled b false
    expect_bus_error "$1: Apply (empty)" "$KS_E_DENIED" "" call Apply 'a{sv}' 0
    expect_bus_error "$1: Apply (all keys)" "$KS_E_DENIED" "" call Apply 'a{sv}' 7 Enabled b true \
        Persistent b true Tunnels as 1 evil0 Endpoints 'a(sqs)' 1 192.0.2.66 53 udp \
        EndpointMark u 0 AllowLan b true AllowDhcp b true
    expect_bus_error "$1: AddEndpoint" "$KS_E_DENIED" "" call AddEndpoint sqs 192.0.2.66 53 udp
    expect_bus_error "$1: RemoveEndpoint (present)" "$KS_E_DENIED" "" call RemoveEndpoint sqs 10.200.0.1 51820 udp
    expect_bus_error "$1: AddTunnel" "$KS_E_DENIED" "" call AddTunnel s 'eth*'
    expect_bus_error "$1: RemoveTunnel (present)" "$KS_E_DENIED" "" call RemoveTunnel s wg0
    expect_bus_error "$1: Verify" "$KS_E_DENIED" "" call Verify
    for p in Persistent AllowLan AllowDhcp; do
        expect_bus_error "$1: set $p=true" "$KS_E_DENIED" "" set "$p" b true
        expect_bus_error "$1: set $p=false" "$KS_E_DENIED" "" set "$p" b false
    done
    for p in Enabled TunnelUp; do
        expect_bus_error "$1: set read-only $p" "$KS_E_PROP_RO" "" set "$p" b false
    done
    expect_bus_error "$1: set read-only EndpointMark" "$KS_E_PROP_RO" "" set EndpointMark u 0
    expect_bus_error "$1: set read-only Tunnels" "$KS_E_PROP_RO" "" set Tunnels as 1 'e*'
}

ks_step "nobody, no polkit on the bus: every change refused"
as_nobody changes "nobody, no polkit"
expect_all_unchanged "after nobody's attempts"
expect_ok "the daemon still owns $KS_BUS_NAME" bus_owned_by "$KS_DAEMON_PID"

ks_step "nobody, polkit says no"
polkit_start deny
as_nobody changes "nobody, polkit denies"
expect_all_unchanged "after nobody's attempts (polkit denies)"
expect_ge "polkit was asked" "$(wc -l <"$KS_POLKIT_LOG")" 10
expect_eq "polkit was asked about org.killswitchd.manage only" \
    "$(grep -vc '"action": "org.killswitchd.manage"' "$KS_POLKIT_LOG" || true)" 0
polkit_stop

ks_step "control: polkit says yes"
polkit_start allow
as_nobody expect_bus_ok "nobody, polkit allows: AddTunnel" call AddTunnel s 'ctl*'
expect_eq "the change is in force" "$(prop Tunnels)" '["wg0","tun*","ctl*"]'
polkit_stop
expect_bus_ok "root takes it back" call RemoveTunnel s 'ctl*'
# The file took the change and its undoing, appended: other bytes, the same settings.
expect_eq "after the control: the settings saved unchanged" "$(settings_digest "$state")" "$SNAP_SAVED"
SNAP_STATE=$(state_digest "$state")
expect_all_unchanged "after the control"
as_nobody expect_bus_error "nobody, polkit gone again: AddTunnel" "$KS_E_DENIED" "" call AddTunnel s 'ctl*'

ks_finish
