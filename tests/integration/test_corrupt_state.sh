#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Corrupt saved state fails closed: `killswitchd --boot` with a truncated,
# garbage or otherwise invalid settings.conf exits non-zero, keeps the file
# aside as settings.conf.bad and installs a block-everything table: even
# tunnel and endpoint traffic stop, loopback still works.  Valid state that
# is not both Enabled and Persistent (or no state at all) installs nothing;
# Enabled and Persistent does install (so "nothing" is not "never").

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_corrupt_state
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"

valid_lines=(Enabled=true Persistent=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp")

# write_corrupt DIR KIND
write_corrupt() {
    local f=$1/settings.conf
    mkdir -p "$1"
    case $2 in
        truncated)   # a valid file cut before its final `end` line
            printf 'version=1\n' >"$f"; printf '%s\n' "${valid_lines[@]}" >>"$f" ;;
        garbage)     head -c 512 /dev/urandom >"$f" ;;
        empty)       : >"$f" ;;
        unknown-key) write_settings "$1" "${valid_lines[@]}" Frobnicate=true ;;
        bad-value)   write_settings "$1" "${valid_lines[@]}" AllowLan=maybe ;;
        bad-endpoint) write_settings "$1" Enabled=true Persistent=true "Endpoint=198.51.100.300 51820 udp" ;;
        no-version)  printf '%s\nend\n' "${valid_lines[@]}" >"$f" ;;
        version-2)   { echo version=2; printf '%s\n' "${valid_lines[@]}"; echo end; } >"$f" ;;
    esac
}

everything_blocked() {   # LABEL
    expect_blocked "$1, tunnel" "$KS_CLI" udp "$KS_INET_V4" 9
    expect_blocked "$1, tunnel" "$KS_CLI" icmp "$KS_INET_V6" 0
    expect_blocked "$1, endpoint" "$KS_CLI" udp "$KS_SRV_V4" "$KS_WG_PORT"
    expect_blocked "$1, clear" "$KS_CLI" udp "$KS_SRV_V6" 9999
    expect_ok "$1: ping 127.0.0.1 still answered" ping_ok "$KS_CLI" 127.0.0.1
    expect_ok "$1: ping ::1 still answered" ping_ok "$KS_CLI" ::1
}

ks_step "control: no table, tunnel and endpoint traffic arrive"
expect_arrives "control" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_arrives "control" "$KS_CLI" icmp "$KS_INET_V6" 0 tun
expect_arrives "control" "$KS_CLI" udp "$KS_SRV_V4" "$KS_WG_PORT" veth

for kind in truncated garbage empty unknown-key bad-value bad-endpoint no-version version-2; do
    ks_step "corrupt state: $kind"
    dir=$KS_TMP/state-$kind
    write_corrupt "$dir" "$kind"
    ks_boot "$KS_CLI" "$dir"
    expect_not "$kind: --boot exits non-zero (got $KS_BOOT_RC)" test "$KS_BOOT_RC" -eq 0
    expect_ok "$kind: settings.conf.bad kept" test -f "$dir/settings.conf.bad"
    expect_not "$kind: settings.conf moved away" test -e "$dir/settings.conf"
    if table_present "$KS_CLI"; then
        ks_pass "$kind: block-everything table installed"
        # The full probe set once; the cheap ones for the other kinds.
        if [[ $kind == truncated ]]; then
            everything_blocked "$kind"
        else
            expect_blocked "$kind, tunnel" "$KS_CLI" udp "$KS_INET_V4" 9
            expect_ok "$kind: ping 127.0.0.1 still answered" ping_ok "$KS_CLI" 127.0.0.1
        fi
    else
        ks_fail "$kind: no table installed (fail open)"
    fi
    table_remove "$KS_CLI"
done

ks_step "valid state that must not install anything"
for variant in "Persistent=false" "Enabled=false" "missing"; do
    dir=$KS_TMP/state-$variant
    case $variant in
        Persistent=false) write_settings "$dir" Enabled=true Persistent=false "Tunnel=$KS_WG_CLI" ;;
        Enabled=false)    write_settings "$dir" Enabled=false Persistent=true "Tunnel=$KS_WG_CLI" ;;
        missing)          mkdir -p "$dir" ;;
    esac
    ks_boot "$KS_CLI" "$dir"
    expect_eq "$variant: --boot exit status" "$KS_BOOT_RC" 0
    expect_not "$variant: no table installed" table_present "$KS_CLI"
    expect_not "$variant: no settings.conf.bad" test -e "$dir/settings.conf.bad"
done
expect_arrives "still no table" "$KS_CLI" udp "$KS_INET_V4" 9 tun

ks_step "valid Enabled+Persistent state installs the table"
dir=$KS_TMP/state-valid
write_settings "$dir" "${valid_lines[@]}"
ks_boot "$KS_CLI" "$dir"
expect_eq "valid: --boot exit status" "$KS_BOOT_RC" 0
expect_ok "valid: table installed" table_present "$KS_CLI"
expect_arrives "valid" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_blocked "valid" "$KS_CLI" udp "$KS_SRV_V4" 9999

ks_finish
