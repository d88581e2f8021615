#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Who may change the kill switch (docs/dbus-api.md, "Who may change
# things"): a caller that is not uid 0 (busctl run as nobody) gets
# org.freedesktop.DBus.Error.AccessDenied for every method that changes
# something and every property write, and nothing changes (table and
# settings.conf), while it can read every property, call GetSettings and
# introspect.  Then polkit stand-ins on the private bus: one that denies
# (still AccessDenied, and the daemon asked it about org.killswitchd.manage
# for that very caller, without interaction), one that allows (now nobody's
# changes go through: the polkit path is real), and polkit gone again.

source "$(dirname "$0")/lib-bus.sh"
ks_bus_init test_dbus_access
"$KS_PY" -c 'from gi.repository import Gio' 2>/dev/null || ks_die "missing python3-gi (the polkit stand-in)"
netns_client
state=$KS_TMP/state
start_bus_daemon "$KS_CLI" "$state"

bus_do call Apply 'a{sv}' 5 Enabled b true Tunnels as 1 wg0 \
    Endpoints 'a(sqs)' 1 198.51.100.7 51820 udp AllowLan b true AllowDhcp b true
[[ $BUS_RC == 0 ]] || ks_die "Apply of the initial settings: $BUS_ERR_NAME $BUS_ERR_MSG"

# Every change, each of which would change something if it were allowed.
# Verify is a documented addition that needs the same authorization.
CHANGES=(
    "call Enable"
    "call Disable"
    "call Apply a{sv} 1 Enabled b false"
    "call Apply a{sv} 0"
    "call AddEndpoint sqs 192.0.2.1 1 udp"
    "call RemoveEndpoint sqs 198.51.100.7 51820 udp"
    "call AddTunnel s wg9"
    "call RemoveTunnel s wg0"
    "call Verify"
    "set Persistent b true"
    "set AllowLan b false"
    "set AllowDhcp b false"
)
PROPERTIES=(Enabled Persistent Tunnels Endpoints EndpointMark AllowLan AllowDhcp TunnelUp
            ActiveTunnels LanSubnets PresentCgroups BlockedPackets Protection Version)

# all_denied LABEL: nobody's every change is AccessDenied; nothing changed.
all_denied() {
    local change
    snapshot "$KS_CLI" "$state"
    for change in "${CHANGES[@]}"; do
        # shellcheck disable=SC2086 # the change's words
        as_nobody expect_bus_error "$1: nobody: $change" "$KS_E_DENIED" "" $change
    done
    expect_unchanged "$1: after nobody's changes"
}

# --------------------------------------------------------------------------
ks_step "no polkit on the bus: only root may change"

all_denied "no polkit"
bus_do call Disable
expect_eq "root may (Disable)" "$BUS_RC:$BUS_ERR_MSG" "0:"
bus_do call Enable
expect_eq "root may (Enable)" "$BUS_RC:$BUS_ERR_MSG" "0:"

# --------------------------------------------------------------------------
ks_step "nobody reads every property, GetSettings and the introspection data"

for p in "${PROPERTIES[@]}"; do
    as_nobody bus_do get "$p"
    got=$("$KS_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"], separators=(",", ":")))' <<<"${BUS_OUT:-null}")
    if [[ $p == BlockedPackets ]]; then   # a live counter
        expect_eq "nobody reads $p" "$BUS_RC:${got//[0-9]/}" "0:"
    else
        expect_eq "nobody reads $p as root does" "$BUS_RC:$got" "0:$(prop "$p")"
    fi
done
as_nobody bus_do call GetSettings
expect_eq "nobody calls GetSettings" "$BUS_RC:$BUS_ERR_MSG" "0:"
root_view=$(bus call "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" GetSettings)
expect_eq "nobody's GetSettings is root's" "$BUS_OUT" "$root_view"
as_nobody bus_do introspect
expect_eq "nobody introspects" "$BUS_RC:$BUS_ERR_MSG" "0:"
for m in .Enable .Apply .GetSettings .Tunnels .Protection .TunnelChanged; do
    expect_ok "nobody's introspection lists $m" grep -q "^\\$m " <<<"$BUS_OUT"
done

# --------------------------------------------------------------------------
ks_step "a polkit that denies"

polkit_start deny
expect_eq "the stand-in answers CheckAuthorization (bba{ss}) as polkitd does" "$(polkit_ask)" "(bba{ss}) false false 0"
: >"$KS_POLKIT_LOG"
all_denied "polkit denies"
n=$(count_lines "$(<"$KS_POLKIT_LOG")")
expect_eq "the daemon asked polkit once per change" "$n" "${#CHANGES[@]}"
as_nobody bus_do call AddTunnel s wg9
expect_eq "asked again: AccessDenied" "$BUS_ERR_NAME" "$KS_E_DENIED"
last=$(tail -n 1 "$KS_POLKIT_LOG")
expect_eq "polkit was asked about org.killswitchd.manage for the calling connection, without interaction" \
    "$("$KS_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["action"], d["subject"][0], d["subject"][1].get("name"), d["flags"])' "$last")" \
    "org.killswitchd.manage system-bus-name $BUS_UNIQUE 0"
bus_do call AddTunnel s wg8
expect_eq "root, with polkit on the bus" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_eq "root's changes do not ask polkit" "$(count_lines "$(<"$KS_POLKIT_LOG")")" $((n + 1))
bus_do call RemoveTunnel s wg8
polkit_stop

# --------------------------------------------------------------------------
ks_step "a polkit that allows: nobody's changes go through"

polkit_start allow
expect_eq "the stand-in answers CheckAuthorization (bba{ss}) as polkitd does" "$(polkit_ask)" "(bba{ss}) true false 0"
: >"$KS_POLKIT_LOG"
as_nobody expect_bus_ok "nobody: Disable" call Disable
expect_not "nobody's Disable removed the table" table_present "$KS_CLI"
expect_prop Enabled false
as_nobody expect_bus_ok "nobody: Enable" call Enable
expect_ok "nobody's Enable installed the table" table_present "$KS_CLI"
expect_prop Protection '"owner"'
as_nobody expect_bus_ok "nobody: AddTunnel wg9" call AddTunnel s wg9
expect_prop Tunnels '["wg0","wg9"]'
as_nobody expect_bus_ok "nobody: RemoveTunnel wg9" call RemoveTunnel s wg9
as_nobody expect_bus_ok "nobody: AddEndpoint" call AddEndpoint sqs 192.0.2.1 1 udp
as_nobody expect_bus_ok "nobody: RemoveEndpoint" call RemoveEndpoint sqs 192.0.2.1 1 udp
as_nobody expect_bus_ok "nobody: set-property AllowLan false" set AllowLan b false
expect_prop AllowLan false
expect_ok "settings.conf says so" grep -qx AllowLan=false <(state_lines "$state")
as_nobody expect_bus_ok "nobody: Apply" call Apply 'a{sv}' 2 AllowLan b true Persistent b true
expect_prop Persistent true
expect_ge "polkit was asked for each" "$(count_lines "$(<"$KS_POLKIT_LOG")")" 8
polkit_stop

# --------------------------------------------------------------------------
ks_step "polkit gone again: denied again"

all_denied "polkit gone"

ks_finish
