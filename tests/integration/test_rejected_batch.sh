#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A rejected transaction changes nothing: daemon A owns the table with
# settings S1; `killswitchd --boot` with other settings S2 (another state
# dir, same namespace) must fail because the kernel refuses to let another
# process touch an owned table (EPERM), and the table must be exactly S1
# (nft -j list before/after, counter values aside) and still enforce S1.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_rejected_batch
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"

ks_step "daemon A owns the table with S1 (tunnel, IPv4 endpoint, LAN blocked)"
daemon_apply "$KS_TMP/state-a" Enabled=true Persistent=true AllowLan=false \
    "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
daemon_a=$KS_DAEMON_PID
before=$(nft_table_shape "$KS_CLI")
expect_blocked "S1" "$KS_CLI" udp "$KS_SRV_V4" 9999
expect_blocked "S1" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT"

ks_step "--boot with S2 (LAN allowed, IPv6 endpoint, mark) in another state dir"
write_settings "$KS_TMP/state-b" Enabled=true Persistent=true AllowLan=true EndpointMark=4660 \
    "Tunnel=tun*" "Endpoint=$KS_SRV_V6 $KS_WG_PORT udp" "Endpoint=$KS_SRV_V4 443 tcp"
ks_boot "$KS_CLI" "$KS_TMP/state-b"
expect_not "--boot with S2 exits non-zero (got $KS_BOOT_RC)" test "$KS_BOOT_RC" -eq 0
ks_log "   --boot said: $(head -n 3 "$KS_BOOT_LOG" | tr '\n' ' ' | cut -c 1-300)"
if grep -qiE 'EPERM|not permitted' "$KS_BOOT_LOG"; then
    ks_pass "--boot reports the kernel's EPERM"
else
    ks_fail "--boot does not say why (no EPERM / 'not permitted' in its output)"
fi
expect_same_table "table is still S1 (nft -j list before/after)" "$before" "$(nft_table_shape "$KS_CLI")"
expect_ok "S2's state file is untouched" test -f "$KS_TMP/state-b/settings.conf"

ks_step "S1 is still enforced and still owned by daemon A"
expect_ok "daemon A still running" ks_is_ours "$daemon_a"
expect_blocked "S1 after the rejected batch" "$KS_CLI" udp "$KS_SRV_V4" 9999
expect_blocked "S1 after the rejected batch" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT"
expect_arrives "S1 after the rejected batch" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_not "another process still cannot delete the table" nft_other "$KS_CLI" delete table inet killswitchd

ks_finish
