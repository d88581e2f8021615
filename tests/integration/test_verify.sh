#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Verify() and `killswitchctl verify`: on a correct set-up (tunnel up,
# endpoint set, Persistent on) every check passes and the command exits 0;
# then the set-up is broken in each way the checks cover, and verify must
# fail, name the failing check and, in its detail, the object or interface:
#
#   the tunnel's element deleted           -> table (names the set), tunnel
#   the output chain's policy set to accept -> policies, table (name output)
#   an endpoint element deleted             -> table (names the set)
#   (between these, an Apply with the server on another port changes only
#   the set's elements, the same table; with that element deleted behind
#   the daemon's back, the kernel refuses the removal and the table is
#   rebuilt, and verify passes)
#   the prerouting chain deleted            -> table, unsolicited
#   the uplink's egress chain deleted       -> table, frames (names the link)
#   that chain emptied, its policy accept   -> table, frames (a raw frame
#                                              left: LEAK, with the link)
#   the table made dormant                  -> table (its flags), outside, dns
#   the uplink added to the tunnels set     -> table (names the set), outside, dns
#   an accept rule at the top of allow_egress
#                                           -> outside, dns: LEAK with the
#                                              interface; the server sees the
#                                              probes arrive
#   a second uplink, then the same leak     -> its name among the leaks
#   Persistent off                          -> boot warns (fails with --strict)
#   the kill switch disabled                -> enabled
#
# For the table to stay broken, the daemon runs with --protection=monitor
# --tamper=report (it reports other processes' changes and leaves them).
# Finally, in owner mode (no options) the same nft commands are refused by
# the kernel (EPERM) and verify still passes.

source "$(dirname "$0")/lib-verify.sh"
vf_init test_verify

topo_create
vf_counters_install
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
tun=$KS_WG_CLI

settings=$KS_TMP/settings.json
cat >"$settings" <<EOF
{"Enabled": true, "Persistent": true, "Tunnels": ["$tun"],
 "Endpoints": [{"address": "$KS_SRV_V4", "port": $KS_WG_PORT, "protocol": "udp"}]}
EOF

# expect_nothing_left DESC: no probe reached the server on any uplink.
expect_nothing_left() {
    local n
    n=$(vf_count "probe4_veths" "probe6_veths" "dns4_veths" "dns6_veths" \
                 "probe4_$VF_UP2_SRV" "probe6_$VF_UP2_SRV" "dns4_$VF_UP2_SRV" "dns6_$VF_UP2_SRV")
    if ((n == 0)); then
        ks_pass "$1: no probe packet reached the server"
    else
        ks_fail "$1: $n probe packets reached the server ($(vf_summary))"
    fi
}

# --------------------------------------------------------------------------
ks_step "a correct set-up: every check passes"

vf_start_daemon "$KS_CLI" "$state" --protection=monitor --tamper=report
ctl_must apply "$settings"
expect_eq "Protection" "$(vf_status Protection)" '"monitor"'
tunnel_flows || ks_die "the tunnel does not carry traffic with the kill switch on"
vf_counters_reset
expect_verify_passes "correct set-up"
expect_detail "correct set-up" table "protection monitor"
expect_detail "correct set-up" outside "on 1 interface(s)"
expect_nothing_left "correct set-up"

# --------------------------------------------------------------------------
ks_step "the tunnel's element deleted from the tunnels set"

expect_ok "nft delete element inet killswitchd tunnels { \"$KS_WG_CLI\" }" \
    nft_other "$KS_CLI" delete element inet killswitchd tunnels "{ \"$KS_WG_CLI\" }"
expect_eq "the element stays deleted (--tamper=report)" \
    "$(in_ns "$KS_CLI" nft list set inet killswitchd tunnels | grep -c "\"$KS_WG_CLI\"" || true)" 0
vf_verify
expect_verify_fails "tunnel element deleted" table tunnel
expect_detail "tunnel element deleted" table "missing [element tunnels" "extra []"
expect_detail "tunnel element deleted" tunnel "refused"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "the output chain's policy set to accept"

expect_ok "nft 'chain inet killswitchd output { policy accept; }'" \
    nft_other "$KS_CLI" 'chain inet killswitchd output { policy accept; }'
vf_verify
expect_verify_fails "policy accept" policies table
expect_detail "policy accept" policies "chain output"
expect_detail "policy accept" table "chain output" "policy accept"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "an endpoint element deleted behind the daemon's back"

expect_ok "nft delete element inet killswitchd endpoints4 { $KS_SRV_V4 . udp . $KS_WG_PORT }" \
    nft_other "$KS_CLI" delete element inet killswitchd endpoints4 "{ $KS_SRV_V4 . udp . $KS_WG_PORT }"
expect_eq "the element stays deleted (--tamper=report)" \
    "$(in_ns "$KS_CLI" nft list set inet killswitchd endpoints4 | grep -c "$KS_SRV_V4" || true)" 0
vf_verify
expect_verify_fails "endpoint element deleted" table
expect_detail "endpoint element deleted" table "missing [element endpoints4" "extra []"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "another server applied: only the endpoint's elements change; the set not as left: rebuilt"

# table_handle: the kernel gives a new table a new handle, so an unchanged one says that only
# the elements changed.
table_handle() { in_ns "$KS_CLI" nft -a list table inet killswitchd | sed -n '1s/.*# handle \([0-9]*\).*/\1/p'; }
has_endpoint() {   # PORT: 1 if endpoints4 holds the server at that port
    in_ns "$KS_CLI" nft list set inet killswitchd endpoints4 | grep -c "$KS_SRV_V4 . udp . $1" || true
}
settings_moved=$KS_TMP/settings-moved.json
sed "s/\"port\": $KS_WG_PORT/\"port\": $((KS_WG_PORT + 1))/" "$settings" >"$settings_moved"
h0=$(table_handle)
ctl_must apply "$settings_moved"
expect_eq "the new port's element is in endpoints4" "$(has_endpoint $((KS_WG_PORT + 1)))" 1
expect_eq "the old port's element is gone" "$(has_endpoint "$KS_WG_PORT")" 0
expect_eq "the same table: only its elements changed (handle $h0)" "$(table_handle)" "$h0"
expect_not "no rebuild was logged" grep -q 'endpoints refused' "$KS_DAEMON_LOG"
# Behind the daemon's back, the element it would remove: the kernel refuses the removal (ENOENT),
# and the daemon builds the table anew from the settings.
expect_ok "nft delete element of port $((KS_WG_PORT + 1))" \
    nft_other "$KS_CLI" delete element inet killswitchd endpoints4 "{ $KS_SRV_V4 . udp . $((KS_WG_PORT + 1)) }"
ctl_must apply "$settings"
expect_eq "the first port's element is back in endpoints4" "$(has_endpoint "$KS_WG_PORT")" 1
expect_ok "the refusal and the rebuild were logged" \
    grep -q 'Update of the tunnels and endpoints refused (kernel refused DELSETELEM' "$KS_DAEMON_LOG"
expect_not "a new table (handle $h0 before)" test "$(table_handle)" = "$h0"
tunnel_flows || ks_die "the tunnel does not carry traffic after the rebuild"
expect_verify_passes "rebuilt"

# --------------------------------------------------------------------------
ks_step "the prerouting chain deleted: the tunnel's address reachable from the LAN"

expect_ok "nft delete chain inet killswitchd prerouting" \
    nft_other "$KS_CLI" delete chain inet killswitchd prerouting
vf_verify
expect_verify_fails "prerouting deleted" table unsolicited
expect_detail "prerouting deleted" unsolicited "no prerouting check"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "the uplink's egress chain deleted: raw frames leave"

expect_ok "nft delete chain netdev killswitchd egress_vethc" \
    nft_other "$KS_CLI" delete chain netdev killswitchd egress_vethc
vf_verify
expect_verify_fails "egress chain deleted" table frames
expect_detail "egress chain deleted" frames "vethc has no egress chain"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "the egress chain emptied: the raw probe frame leaves and is named"

expect_ok "nft flush chain netdev killswitchd egress_vethc; policy accept" \
    nft_other "$KS_CLI" "flush chain netdev killswitchd egress_vethc; chain netdev killswitchd egress_vethc { policy accept; }"
vf_verify
expect_verify_fails "egress chain emptied" table frames
expect_detail "egress chain emptied" frames "LEAK" "vethc"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "the table made dormant (it filters nothing)"

expect_ok "nft add table inet killswitchd { flags dormant; }" \
    nft_other "$KS_CLI" add table inet killswitchd '{ flags dormant; }'
vf_verify
expect_verify_fails "dormant" table outside dns
expect_detail "dormant" table "missing [table flags 0x0]" "extra [table flags 0x1]"
expect_detail "dormant" outside "LEAK" "on vethc"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "the physical uplink added to the tunnels set behind the daemon's back"

expect_ok "nft add element inet killswitchd tunnels { \"vethc\" }" \
    nft_other "$KS_CLI" add element inet killswitchd tunnels '{ "vethc" }'
vf_verify
expect_verify_fails "vethc in the tunnels set" table outside dns
expect_detail "vethc in the tunnels set" table "extra [element tunnels"
expect_detail "vethc in the tunnels set" outside "LEAK" "udp4 on vethc" "tcp6 on vethc"
vf_restore
expect_verify_passes "restored"

# --------------------------------------------------------------------------
# leak_step DESC CLIENT-IF:SERVER-IF...: insert an accept rule at the top
# of allow_egress; verify must report the leak on each client interface,
# and the server must count the probes on the other end of its veth.
leak_step() {
    local desc=$1; shift
    local pair cif sif
    expect_ok "$desc: nft insert rule inet killswitchd allow_egress accept" \
        nft_other "$KS_CLI" insert rule inet killswitchd allow_egress accept
    vf_counters_reset
    vf_verify
    expect_verify_fails "$desc" outside dns table
    expect_detail "$desc" table "extra [rule allow_egress"
    for pair in "$@"; do
        cif=${pair%%:*} sif=${pair#*:}
        expect_detail "$desc" outside "LEAK" "udp4 on $cif" "udp6 on $cif" "tcp4 on $cif" "tcp6 on $cif"
        expect_detail "$desc" dns "LEAK" "udp4 on $cif" "udp6 on $cif"
        wait_until 2 vf_counted "probe4_$sif" "probe6_$sif" || true
        expect_ge "$desc: probes to $VF_PROBE4 that left $cif and reached the server" "$(vf_count "probe4_$sif")" 1
        expect_ge "$desc: probes to $VF_PROBE6 that left $cif and reached the server" "$(vf_count "probe6_$sif")" 1
        expect_ge "$desc: DNS probes that left $cif and reached the server" "$(vf_count "dns4_$sif" "dns6_$sif")" 1
    done
    ks_log "# server counters: $(vf_summary)"
    vf_restore
}

ks_step "an accept rule at the top of allow_egress: a real leak"
leak_step "accept rule" vethc:veths
expect_verify_passes "restored"
vf_counters_reset

# --------------------------------------------------------------------------
ks_step "a second uplink"

vf_uplink_add
vf_counters_reset
expect_verify_passes "two uplinks"
expect_detail "two uplinks" outside "on 2 interface(s)"
expect_nothing_left "two uplinks"
leak_step "accept rule, two uplinks" vethc:veths "$VF_UP2:$VF_UP2_SRV"
expect_verify_passes "restored"

# --------------------------------------------------------------------------
ks_step "Persistent off"

ctl_must persist off
# A choice, not a fault: a warning that fails only with --strict.
vf_verify
expect_eq "Persistent off: failed checks" "${VF_FAILED:-none}" none
expect_eq "Persistent off: verify --json exit status" "$VF_RC" 0
expect_eq "Persistent off: verify exit status" "$VF_TEXT_RC" 0
expect_eq "Persistent off: warned checks" "${VF_WARNED:-none}" boot
expect_eq "Persistent off: boot status" "${VF_STATUS[boot]:-}" warning
expect_detail "Persistent off" boot "Persistent is off"
if grep -qE '^\[warn\] +boot ' <<<"$VF_TEXT" &&
    grep -qE '^([0-9]+) of \1 checks passed, 1 with a warning$' <<<"$VF_TEXT"; then
    ks_pass "Persistent off: text form marks boot [warn]"
else
    ks_fail "Persistent off: text form: $VF_TEXT"
fi
rc=0; "$KILLSWITCHCTL" verify --strict >/dev/null 2>&1 </dev/null || rc=$?
expect_eq "Persistent off: verify --strict exit status" "$rc" 1
ctl_must persist on
expect_verify_passes "Persistent on again"

# --------------------------------------------------------------------------
ks_step "the kill switch disabled"

ctl_must disable
vf_verify
expect_verify_fails "disabled" enabled
expect_eq "disabled: the report has one check" "${#VF_CHECKS[@]}" 1
expect_detail "disabled" enabled "disabled"

# --------------------------------------------------------------------------
ks_step "owner mode: the same changes are refused by the kernel"

vf_stop_daemon
table_remove "$KS_CLI"
vf_start_daemon "$KS_CLI" "$state"
ctl_must enable
protection=$(vf_status Protection)
if [[ $protection != '"owner"' ]]; then
    ks_known_gap "owner mode unavailable here (Protection $protection): the kernel has no owner flag"
else
    ks_pass "Protection is owner"
    tunnel_flows || ks_fail "the tunnel does not carry traffic in owner mode"
    before=$(nft_table_shape "$KS_CLI")
    # refused DESC NFT-ARGS...: nft fails with EPERM.
    refused() {
        local desc=$1 err; shift
        if err=$(in_ns "$KS_CLI" nft "$@" 2>&1); then
            ks_fail "owner: $desc: nft succeeded"
        elif [[ $err == *"Operation not permitted"* ]]; then
            ks_pass "owner: $desc: refused (Operation not permitted)"
        else
            ks_fail "owner: $desc: failed, but not with EPERM: $err"
        fi
    }
    h=$(rule_handle "$KS_CLI" output 'oifname @tunnels accept')
    refused "nft delete rule inet killswitchd output handle ${h:-?}" \
        delete rule inet killswitchd output handle "${h:-0}"
    refused "nft 'chain inet killswitchd output { policy accept; }'" \
        'chain inet killswitchd output { policy accept; }'
    refused "nft delete element inet killswitchd endpoints4 { $KS_SRV_V4 . udp . $KS_WG_PORT }" \
        delete element inet killswitchd endpoints4 "{ $KS_SRV_V4 . udp . $KS_WG_PORT }"
    refused "nft insert rule inet killswitchd allow_egress accept" \
        insert rule inet killswitchd allow_egress accept
    refused "nft add table inet killswitchd { flags dormant; }" \
        add table inet killswitchd '{ flags dormant; }'
    refused "nft add element inet killswitchd tunnels { \"vethc\" }" \
        add element inet killswitchd tunnels '{ "vethc" }'
    expect_same_table "owner: table unchanged" "$before" "$(nft_table_shape "$KS_CLI")"
    vf_counters_reset
    expect_verify_passes "owner mode"
    expect_detail "owner mode" table "protection owner"
    expect_detail "owner mode" outside "on 2 interface(s)"
    expect_nothing_left "owner mode"
fi

vf_stop_daemon
ks_finish
