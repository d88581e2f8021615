#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Corrupt saved state fails closed: `killswitchd --boot` with a truncated,
# garbage or otherwise invalid settings.conf exits non-zero, keeps the file
# aside as settings.conf.bad and installs a block-everything table: even
# tunnel and endpoint traffic stop, loopback still works.  That includes a
# version 2 file whose changes do not hold: a committed change damaged
# (not the last one, so not a save cut short), a change the daemon would
# never write (removing what is not there), changes after a version 1
# snapshot.  Valid state that is not both Enabled and Persistent (or no
# state at all) installs nothing, also when a committed change made it so;
# Enabled and Persistent does install (so "nothing" is not "never"), from
# a version 1 file and from a version 2 file whose changes are applied and
# whose unfinished last change (a save cut short) is left out.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_corrupt_state
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"

valid_lines=(Enabled=true Persistent=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp")

# write_v2 DIR SNAPSHOT TAIL [CHANGE...]: a version 2 settings.conf: the
# snapshot, each change committed (its lines, then "commit N CRC"), then
# TAIL as it is (an unfinished change).  Lists of lines are joined by ';'.
write_v2() {
    mkdir -p "$1"
    "$KS_PY" -c 'import sys, zlib
path, snap, tail, changes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
text = "version=2\n" + "".join(l + "\n" for l in snap.split(";")) + "end\n"
for n, c in enumerate(changes, 1):
    body = "".join(l + "\n" for l in c.split(";")) + "commit %d " % n
    text += body + "%08x\n" % zlib.crc32(body.encode())
open(path, "w").write(text + tail)' "$1/settings.conf" "$2" "$3" "${@:4}"
}
joined() { local IFS=';'; echo "$*"; }

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
        version-3)   { echo version=3; printf '%s\n' "${valid_lines[@]}"; echo end; } >"$f" ;;
        v2-damaged)  # change 1 of 2 altered: a cut can only leave the last one unfinished
            write_v2 "$1" "$(joined "${valid_lines[@]}")" "" AllowLan=true AllowLan=false
            sed -i 's/^AllowLan=true$/AllowLan=TRUE/' "$f" ;;
        v2-absent)   # a committed change removing an endpoint that is not there
            write_v2 "$1" "$(joined "${valid_lines[@]}")" "" "-Endpoint=198.51.100.99 1 udp" ;;
        v1-changes)  # a version 1 file has nothing after "end"
            write_v2 "$1" "$(joined "${valid_lines[@]}")" "" AllowLan=true
            sed -i 's/^version=2$/version=1/' "$f" ;;
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

for kind in truncated garbage empty unknown-key bad-value bad-endpoint no-version version-3 \
    v2-damaged v2-absent v1-changes; do
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
for variant in "Persistent=false" "Enabled=false" "missing" "v2-disabled"; do
    dir=$KS_TMP/state-$variant
    case $variant in
        Persistent=false) write_settings "$dir" Enabled=true Persistent=false "Tunnel=$KS_WG_CLI" ;;
        Enabled=false)    write_settings "$dir" Enabled=false Persistent=true "Tunnel=$KS_WG_CLI" ;;
        missing)          mkdir -p "$dir" ;;
        v2-disabled)      # enabled in the snapshot, disabled by the last committed change
            write_v2 "$dir" "$(joined "${valid_lines[@]}")" "" "+Tunnel=tun*" Enabled=false ;;
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
table_remove "$KS_CLI"

ks_step "valid version 2 state: the committed changes apply, an unfinished one does not"
dir=$KS_TMP/state-v2
# The snapshot lacks the VPN's endpoint, change 1 adds it; the unfinished
# change would take it away again and disable (its commit line cut short).
write_v2 "$dir" "$(joined Enabled=true Persistent=true "Tunnel=$KS_WG_CLI")" \
    "$(printf -- '-Endpoint=%s %s udp\nEnabled=false\ncommit 3 1a2b' "$KS_SRV_V4" "$KS_WG_PORT")" \
    AllowLan=true "$(joined AllowLan=false "+Endpoint=$KS_SRV_V4 $KS_WG_PORT udp")"
ks_boot "$KS_CLI" "$dir"
expect_eq "v2: --boot exit status" "$KS_BOOT_RC" 0
expect_ok "v2: table installed" table_present "$KS_CLI"
expect_not "v2: no settings.conf.bad" test -e "$dir/settings.conf.bad"
expect_arrives "v2 (the endpoint of change 2 in force)" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_blocked "v2" "$KS_CLI" udp "$KS_SRV_V4" 9999
table_remove "$KS_CLI"

ks_finish
