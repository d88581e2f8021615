#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Coexistence: other firewall configurations in the client namespace must
# not open a hole in the kill switch.  Two floods run the whole time, with
# canaries to the server outside the tunnel: one from the client itself, one
# from a container namespace routed through the client (forwarded).  For
# each configuration, packets leaked are counted on the server for 1 s with
# the kill switch (must be 0), then for 1 s after Disable (the paired
# control: the same traffic does leak without our table), then Enable.
#
#   1. accept-everything tables at every priority (-400, -200, 0, 100, 300,
#      600) on every hook, in the inet, ip and ip6 families, and a netdev
#      egress chain on the uplink;
#   2. Docker-like iptables-nft rules: FORWARD policy ACCEPT, FORWARD
#      ACCEPT for the container link, NAT MASQUERADE of its network, a
#      DOCKER chain;
#   3. libvirt-like forward rules (iptables-nft LIBVIRT_FW* chains, and
#      libvirt's native nftables table);
#   4. a whole iptables-nft ruleset accepting everything in every table and
#      chain (ip and ip6), and iptables-legacy accepting everything too;
#   5. `type route` chains that mark packets for the internet host, with an
#      ip rule sending marked packets out of the physical interface in
#      clear, at each priority -400 ... 600 in turn (after our output chain
#      accepted them for the tunnel, only the postrouting chain can stop
#      them), and the same with an iptables-nft mangle MARK rule;
#   6. all of the above at once;
#   7. `nft flush ruleset` and an iptables-nft-restore of an empty ruleset
#      by another process: our table stays, nothing leaks;
#   8. Ethernet frames written with an AF_PACKET socket (CAP_NET_RAW) never
#      meet an IP hook: the egress chains of table netdev killswitchd hold them
#      (test_hostile_side proves it with a control).

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_coexist
for tool in iptables-nft ip6tables-nft iptables-nft-restore; do
    command -v "$tool" >/dev/null || ks_die "missing tool: $tool (Debian package iptables)"
done
topo_create --container
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
WINDOW=${KS_COEXIST_WINDOW:-1}
MARK=0x77

start_daemon "$KS_CLI" "$state"
expect_bus_ok "settings in force" call Apply 'a{sv}' 3 Enabled b true Tunnels as 1 "$KS_WG_CLI" \
    Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp

# The ip rule of scenario 5: marked packets go out of the veth in clear.
ip -n "$KS_CLI" rule add fwmark "$MARK" lookup 77 priority 100
ip -n "$KS_CLI" -6 rule add fwmark "$MARK" lookup 77 priority 100
ip -n "$KS_CLI" route add default via "$KS_SRV_V4" dev vethc table 77
ip -n "$KS_CLI" -6 route add default via "$KS_SRV_V6" dev vethc table 77

flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6" --rate 200
cli_flood=$KS_FLOOD_PID cli_stats=$KS_FLOOD_STATS
flood_start "$KS_CTR" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6" --rate 200
ctr_flood=$KS_FLOOD_PID

nft_cli() { in_ns "$KS_CLI" nft "$@"; }
ipt() { in_ns "$KS_CLI" iptables-nft "$@"; }
ip6t() { in_ns "$KS_CLI" ip6tables-nft "$@"; }
PRIOS=(-400 -200 0 100 300 600)

declare -A FIG=()
# check NAME: leaks with the table (0), then the paired control.
check() {
    local name=$1 with without
    counters_reset
    sleep "$WINDOW"
    with=$(count_leaks)
    if ((with == 0)); then
        ks_pass "$name: with the kill switch: 0 packets leaked"
    else
        ks_fail "$name: with the kill switch: $with packets leaked ($(counters_summary))"
    fi
    bus_do call Disable
    ((BUS_RC == 0)) || ks_die "Disable failed: $BUS_ERR_MSG"
    counters_reset
    sleep "$WINDOW"
    without=$(count_leaks)
    bus_do call Enable
    ((BUS_RC == 0)) || ks_die "Enable failed: $BUS_ERR_MSG"
    expect_ge "$name: control, without the table: packets leaked" "$without" 10
    FIG[$name]="$with/$without"
}

# --------------------------------------------------------------------------
accept_tables() {
    local p n fam hook
    {
        for p in "${PRIOS[@]}"; do
            n=${p#-}m; [[ $p == -* ]] || n=$p
            for fam in inet ip ip6; do
                echo "table $fam accept_$n {"
                for hook in prerouting input forward output postrouting; do
                    echo "  chain $hook { type filter hook $hook priority $p; policy accept;"
                    echo "    ct state established,related accept"
                    echo "    oifname \"vethc\" accept"
                    echo "    meta l4proto { udp, tcp, icmp, ipv6-icmp } accept"
                    echo "    accept"
                    echo "  }"
                done
                echo "}"
            done
        done
        echo "table netdev egress_accept {"
        echo "  chain out { type filter hook egress device \"vethc\" priority -500; policy accept; accept; }"
        echo "}"
    } | nft_cli -f -
}
accept_tables_del() {
    local p n fam
    for p in "${PRIOS[@]}"; do
        n=${p#-}m; [[ $p == -* ]] || n=$p
        for fam in inet ip ip6; do nft_cli delete table "$fam" "accept_$n"; done
    done
    nft_cli delete table netdev egress_accept
}

docker_like() {
    local t
    for t in ipt ip6t; do
        $t -P FORWARD ACCEPT
        $t -N DOCKER-USER
        $t -A DOCKER-USER -j RETURN
        $t -A FORWARD -j DOCKER-USER
        $t -A FORWARD -o vethk -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        $t -A FORWARD -i vethk ! -o vethk -j ACCEPT
        $t -A FORWARD -i vethk -o vethk -j ACCEPT
        $t -t nat -N DOCKER
        $t -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
        $t -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER
    done
    ipt -t nat -A POSTROUTING -s 10.203.0.0/24 ! -o vethk -j MASQUERADE
    ip6t -t nat -A POSTROUTING -s fd00:203::/64 ! -o vethk -j MASQUERADE
}
libvirt_like() {
    local t
    for t in ipt ip6t; do
        $t -N LIBVIRT_FWX
        $t -N LIBVIRT_FWI
        $t -N LIBVIRT_FWO
        $t -I FORWARD 1 -j LIBVIRT_FWX
        $t -I FORWARD 2 -j LIBVIRT_FWI
        $t -I FORWARD 3 -j LIBVIRT_FWO
        $t -A LIBVIRT_FWX -i vethk -o vethk -j ACCEPT
        $t -t nat -N LIBVIRT_PRT
        $t -t nat -I POSTROUTING 1 -j LIBVIRT_PRT
    done
    ipt -A LIBVIRT_FWO -s 10.203.0.0/24 -i vethk -j ACCEPT
    ipt -A LIBVIRT_FWI -d 10.203.0.0/24 -o vethk -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ipt -t nat -A LIBVIRT_PRT -s 10.203.0.0/24 ! -d 10.203.0.0/24 -p udp -j MASQUERADE --to-ports 1024-65535
    ipt -t nat -A LIBVIRT_PRT -s 10.203.0.0/24 ! -d 10.203.0.0/24 -j MASQUERADE
    ip6t -A LIBVIRT_FWO -s fd00:203::/64 -i vethk -j ACCEPT
    ip6t -A LIBVIRT_FWI -d fd00:203::/64 -o vethk -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    # libvirt >= 9 writes native nftables instead.
    nft_cli -f - <<EOF
table inet libvirt_network {
    chain forward { type filter hook forward priority filter; policy accept;
        counter jump guest_cross
        counter jump guest_input
        counter jump guest_output
    }
    chain guest_output {
        iifname "vethk" ip saddr 10.203.0.0/24 counter accept
        iifname "vethk" ip6 saddr fd00:203::/64 counter accept
    }
    chain guest_input {
        oifname "vethk" ct state established,related counter accept
    }
    chain guest_cross {
        iifname "vethk" oifname "vethk" counter accept
    }
    chain guest_nat { type nat hook postrouting priority srcnat; policy accept;
        ip saddr 10.203.0.0/24 ip daddr != 10.203.0.0/24 counter masquerade
    }
}
EOF
}
iptables_flush() {   # every iptables-nft table of both families, gone
    printf '*filter\nCOMMIT\n*nat\nCOMMIT\n*mangle\nCOMMIT\n*raw\nCOMMIT\n' | in_ns "$KS_CLI" iptables-nft-restore
    printf '*filter\nCOMMIT\n*nat\nCOMMIT\n*mangle\nCOMMIT\n*raw\nCOMMIT\n' | in_ns "$KS_CLI" ip6tables-nft-restore
    in_ns "$KS_CLI" nft list tables | while read -r _ fam name; do
        case $name in filter|nat|mangle|raw) nft_cli delete table "$fam" "$name" ;; esac
    done
}
iptables_accept_all() {
    local t tbl c
    for t in ipt ip6t; do
        for c in INPUT OUTPUT FORWARD; do $t -P "$c" ACCEPT; $t -A "$c" -j ACCEPT; done
        for tbl in nat mangle raw; do
            for c in PREROUTING OUTPUT; do $t -t "$tbl" -A "$c" -j ACCEPT; done
        done
        for c in INPUT FORWARD POSTROUTING; do $t -t mangle -A "$c" -j ACCEPT; done
        for c in INPUT POSTROUTING; do $t -t nat -A "$c" -j ACCEPT; done
    done
    if in_ns "$KS_CLI" iptables-legacy -A OUTPUT -j ACCEPT 2>/dev/null; then
        in_ns "$KS_CLI" iptables-legacy -A FORWARD -j ACCEPT
        in_ns "$KS_CLI" iptables-legacy -t mangle -A POSTROUTING -j ACCEPT
        LEGACY=1
    else
        LEGACY=0
    fi
}
iptables_legacy_flush() {
    ((${LEGACY:-0})) || return 0
    in_ns "$KS_CLI" iptables-legacy -F
    in_ns "$KS_CLI" iptables-legacy -t mangle -F
}
rerouter() {   # PRIORITY
    nft_cli -f - <<EOF
table inet rerouter_${1#-} {
    chain out { type route hook output priority $1; policy accept;
        ip daddr $KS_INET_V4 meta mark set $MARK
        ip6 daddr $KS_INET_V6 meta mark set $MARK
    }
}
EOF
}
rerouter_del() { nft_cli delete table inet "rerouter_${1#-}"; }
mangle_mark() {
    ipt -t mangle -A OUTPUT -d "$KS_INET_V4" -j MARK --set-mark "$MARK"
    ip6t -t mangle -A OUTPUT -d "$KS_INET_V6" -j MARK --set-mark "$MARK"
}

# --------------------------------------------------------------------------
ks_step "0. nothing else"
check "no other rules"

ks_step "1. accept-everything tables at every priority, every hook, every family"
accept_tables
check "accept tables at ${PRIOS[*]}"
accept_tables_del

ks_step "2. Docker-like iptables-nft rules"
docker_like
check "Docker-like FORWARD ACCEPT + MASQUERADE"
iptables_flush

ks_step "3. libvirt-like forward rules"
libvirt_like
check "libvirt-like forward rules"
iptables_flush
nft_cli delete table inet libvirt_network

ks_step "4. an iptables-nft ruleset accepting everything (and iptables-legacy)"
iptables_accept_all
ks_log "# iptables-legacy rules: $([[ $LEGACY == 1 ]] && echo yes || echo "not available")"
check "iptables-nft accept-all ruleset"
iptables_flush
iptables_legacy_flush

ks_step "5. type route chains re-routing marked packets out of the uplink"
for p in "${PRIOS[@]}"; do
    rerouter "$p"
    check "type route chain at priority $p"
    rerouter_del "$p"
done
mangle_mark
check "iptables-nft mangle MARK"
iptables_flush

ks_step "6. all of it at once"
accept_tables
docker_like
libvirt_like
iptables_accept_all
for p in "${PRIOS[@]}"; do rerouter "$p"; done
mangle_mark
ks_log "# tables in the client namespace: $(in_ns "$KS_CLI" nft list tables | wc -l)"
check "all at once"

ks_step "7. flushes by other tools"
in_ns "$KS_CLI" nft flush ruleset
expect_ok "our table survives nft flush ruleset" table_present "$KS_CLI"
expect_eq "the other tables are gone" "$(in_ns "$KS_CLI" nft list tables | grep -vc ' killswitchd$' || true)" 0
iptables_legacy_flush
for p in "${PRIOS[@]}"; do rerouter "$p"; done
iptables_accept_all
iptables_flush
expect_ok "our table survives iptables-nft-restore" table_present "$KS_CLI"
check "after nft flush ruleset and iptables-nft-restore (rerouters back)"

ks_step "8. below IP: frames written with an AF_PACKET socket"
# A process with CAP_NET_RAW writes whole Ethernet frames to the link: they
# never meet an IP hook; the egress chain on the link drops them.
srv_mac=$(ip -n "$KS_SRV" -j link show veths | "$KS_PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
counters_reset
raw=$(in_ns "$KS_CLI" "$KS_PY" "$KS_FAULTSPY" raw-udp --ifname vethc --dst-mac "$srv_mac" \
    --src "$KS_CLI_V4" --dst "$KS_SRV_V4" --sport "$KS_PROBE_PORT" --count 10)
sleep 0.3
raw_arrived=$(count veth_probe4)
ks_log "# AF_PACKET: $raw; $raw_arrived of them arrived at the server"
expect_zero "frames written with AF_PACKET that arrived at the server" "$raw_arrived"
FIG["AF_PACKET frames"]="$raw_arrived/10"

ks_stop_pid "$ctr_flood"
KS_FLOOD_PID=$cli_flood KS_FLOOD_STATS=$cli_stats
expect_ge "client canaries refused with EPERM" "$(flood_stat eperm)" 100
flood_stop
ks_log "# FIGURES coexist (leaked with/without our table, ${WINDOW} s each): $(for k in "${!FIG[@]}"; do printf '[%s]=%s ' "$k" "${FIG[$k]}"; done)"
ks_finish
