#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The state directory full, then read-only, under a running daemon with a
# flood running through the tunnel.  The state directory is a 1 MiB tmpfs
# in a mount namespace of the daemon's own (the host never sees it): filled
# to the last block with a file, then remounted read-only.
#
# A change is appended to settings.conf: on the full disk, changes that
# fit in the room its last block still has are saved (the disk is full,
# not the file), and must be in the file exactly as in force.  Once that
# room is used up by the smallest changes there are, every kind of change
# (Apply, Disable, AddEndpoint, RemoveEndpoint, AddTunnel, RemoveTunnel,
# each writable property) must fail cleanly with
# org.killswitchd.Error.State, and leave the kernel's table (digest, and
# nft's listing with handles: the very same table, not one put back),
# settings.conf (byte for byte: a change written and taken back leaves
# nothing) and GetSettings exactly as before.  Enable when enabled changes
# nothing, so it saves nothing and succeeds, full disk or not.  Disable is
# tried 100 times more with the flood running: while the daemon finds out
# it cannot save, the table must not be gone for any packet (zero leaks).
# Once there is space again, changes succeed.
#
# Control: the same flood without our table (Disable) leaks.

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_disk
for tool in nsenter unshare findmnt; do command -v "$tool" >/dev/null || ks_die "missing tool: $tool"; done
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
disables=${KS_DISK_DISABLES:-100}

start_daemon_tmpfs "$KS_CLI" "$state" 1m
inside() { tmpfs_exec "$KS_DAEMON_PID" "$@"; }
file_digest() { inside sha256sum "$state/settings.conf" 2>/dev/null | cut -c 1-16 || echo none; }
expect_ok "the state directory is a tmpfs in the daemon's mount namespace only" \
    inside findmnt -n -o FSTYPE --target "$state"
expect_not "the host does not see that mount" findmnt -n --mountpoint "$state"

expect_bus_ok "settings in force" call Apply 'a{sv}' 4 Enabled b true Tunnels as 2 "$KS_WG_CLI" 'tun*' \
    Endpoints 'a(sqs)' 2 "$KS_SRV_V4" "$KS_WG_PORT" udp 2001:db8:200::1 443 tcp AllowDhcp b true
flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
counters_reset

snapshot_all() {
    SNAP_TABLE=$(table_digest "$KS_CLI") SNAP_FILE=$(file_digest) SNAP_SETTINGS=$(settings_now)
    SNAP_SHAPE=$(nft_table_shape "$KS_CLI")
}
unchanged() {   # LABEL
    expect_eq "$1: table unchanged" "$(table_digest "$KS_CLI")" "$SNAP_TABLE"
    # Handles included: the very same table, not one put back.
    expect_same_table "$1: the kernel kept the previous table (nft, handles included)" \
        "$SNAP_SHAPE" "$(nft_table_shape "$KS_CLI")"
    expect_eq "$1: settings.conf unchanged" "$(file_digest)" "$SNAP_FILE"
    expect_eq "$1: GetSettings unchanged" "$(settings_now)" "$SNAP_SETTINGS"
}
mapfile -d '' big < <("$KS_PY" -c 'import sys
sys.stdout.write("3000\0")
for i in range(3000):
    sys.stdout.write("10.77.%d.%d\0%d\0udp\0" % (i // 250, i % 250 + 1, 1000 + i))')
every_change() {   # LABEL
    local l=$1 p v
    expect_bus_error "$l: Apply (3000 endpoints)" "$KS_E_STATE" "" call Apply 'a{sv}' 2 \
        Tunnels as 1 "$KS_WG_CLI" Endpoints 'a(sqs)' "${big[@]}"
    expect_bus_error "$l: Apply (flags)" "$KS_E_STATE" "" call Apply 'a{sv}' 2 AllowDhcp b false Persistent b true
    expect_bus_error "$l: Disable" "$KS_E_STATE" "" call Disable
    expect_bus_ok "$l: Enable (already enabled: nothing to save)" call Enable
    expect_bus_error "$l: AddEndpoint" "$KS_E_STATE" "" call AddEndpoint sqs 198.51.100.9 443 tcp
    expect_bus_error "$l: RemoveEndpoint" "$KS_E_STATE" "" call RemoveEndpoint sqs 2001:db8:200::1 443 tcp
    expect_bus_error "$l: AddTunnel" "$KS_E_STATE" "" call AddTunnel s 'ppp*'
    expect_bus_error "$l: RemoveTunnel" "$KS_E_STATE" "" call RemoveTunnel s 'tun*'
    for p in Persistent AllowLan; do   # to the other value: a change
        v=$([[ $(prop "$p") == true ]] && echo false || echo true)
        expect_bus_error "$l: set $p=$v" "$KS_E_STATE" "" set "$p" b "$v"
    done
    expect_bus_error "$l: set AllowDhcp=false" "$KS_E_STATE" "" set AllowDhcp b false
}
# Disable N times: each must fail; the table must not vanish for a packet.
disable_storm() {   # LABEL
    local i refused=0
    for ((i = 0; i < disables; i++)); do
        bus_do call Disable
        [[ $BUS_ERR_NAME == "$KS_E_STATE" ]] && refused=$((refused + 1))
    done
    expect_eq "$1: Disable x$disables refused with Error.State" "$refused" "$disables"
}

ks_step "the state directory full"
inside sh -c "dd if=/dev/zero of='$state/filler' bs=64k 2>/dev/null; sync" || true
ks_log "# free: $(inside df -k --output=avail "$state" | tail -n 1 | tr -d ' ') KiB"
use_up_file_room
ks_log "# $KS_FITTED changes fitted in the room left in settings.conf"
expect_eq "full: the changes that fitted are saved as in force" "$(state_lines "$state" inside)" "$(settings_in_force)"
snapshot_all
every_change "full"
unchanged "full"
disable_storm "full"
unchanged "full, after the Disable storm"
expect_eq "full: no temporary file left" "$(inside find "$state" -name '.settings.conf.*' | wc -l)" 0

ks_step "the state directory read-only"
inside rm -f "$state/filler"
inside mount -o remount,ro "$state"
expect_not "the state directory is read-only" inside touch "$state/probe"
snapshot_all
every_change "read-only"
unchanged "read-only"
disable_storm "read-only"
unchanged "read-only, after the Disable storm"

ks_step "writable again"
inside mount -o remount,rw "$state"
expect_bus_ok "AddEndpoint succeeds" call AddEndpoint sqs 198.51.100.9 443 tcp
expect_ok "... and is saved" grep -qx 'Endpoint=198.51.100.9 443 tcp' <(state_lines "$state" inside)
expect_bus_ok "RemoveEndpoint succeeds" call RemoveEndpoint sqs 198.51.100.9 443 tcp

ks_step "totals"
flood_stop
expect_no_leaks "full and read-only state directory, $((2 * disables)) refused Disables, flood running"
expect_ge "canary packets refused with EPERM" "$(flood_stat eperm)" 100
ks_log "# FIGURES disk: refused_changes=$((2 * (10 + disables))) leaks=$(count_leaks) (table, file and settings compared after each phase)"
ks_step "control: without the table the canaries leak"
control_without_table
ks_finish
