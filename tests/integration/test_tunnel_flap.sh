#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Tunnel flapping: with Tunnels = [the client's tunnel, a prefix pattern]
# and a flood to the internet host running, the WireGuard tunnel flaps 100
# times, four kinds in turn: wireguard-go killed and restarted, the link set
# down and up, renamed to a name the pattern matches (brought up and down
# under it) and back, renamed to a name nothing matches and back.
#
# Every change waits for its signals before the next, so that what the
# daemon must report is exact: TunnelChanged(name, up) whenever a matching
# interface's "up" changes, an absent interface counting as down.  So a link
# that goes up is (name, true); one that goes down, or disappears while up,
# is (name, false); one that appears down, or disappears while down, changes
# nothing and is not signalled.  A kill is the interface disappearing: one
# (name, false), however the kernel reports it (down, then deleted).  A
# rename is the old name disappearing and the new one appearing.  Checked: the TunnelChanged signals, change by change and
# counted per kind; TunnelUp and ActiveTunnels along the way and at the
# end; zero packets leaked on the server during the whole run.  KS_FLAPS
# sets another number of flaps.

source "$(dirname "$0")/lib-net.sh"
ks_init test_tunnel_flap
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
FLAPS=${KS_FLAPS:-100}

# Two more names for the tunnel: one the pattern matches, one nothing matches.
pattern=${KS_ID}t
alias_match=${pattern}0
alias_other=${KS_ID}x

write_settings "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Tunnel=$pattern*" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
net_bus
start_daemon "$KS_CLI" "$state"
expect_prop "tunnel up at start" TunnelUp true
expect_prop "tunnel up at start" ActiveTunnels "[\"$KS_WG_CLI\"]"
sig_start

# --------------------------------------------------------------------------
# The changes, and the signals each must produce

EXPECTED=()       # every expected signal, in order, as compact JSON
OP_SIZES=()       # how many of them each change must produce
OP_STARTS=()      # how many signals had come before each change
OP_NAMES=()
MISSED=0          # changes whose signals did not all come within a second
OPS=0

# change LABEL EXPECTED... -- CMD...: run CMD, then wait for its signals.
change() {
    local label=$1 n=0 before; shift
    while [[ $1 != -- ]]; do EXPECTED+=("$1"); n=$((n + 1)); shift; done
    shift
    before=$(sig_count TunnelChanged)
    "$@"
    OP_SIZES+=("$n") OP_STARTS+=("$before") OP_NAMES+=("$label")
    OPS=$((OPS + 1))
    sig_wait TunnelChanged $((before + n)) 1 || MISSED=$((MISSED + 1))
    # A change that must not be signalled: give a wrong signal time to show.
    ((n > 0)) || ks_nap 0.1
}
sig() { printf '["%s",%s]' "$1" "$2"; }   # NAME UP

rename() { ip -n "$KS_CLI" link set "$1" name "$2"; }
link_set() { ip -n "$KS_CLI" link set "$1" "$2"; }
# tunnel_up in two changes: wireguard-go creates its interface down, and
# only tunnel_up_link sets it up.  Apart, so that neither can hide the other.
tunnel_create() {
    wg_start KS_WG_CLI_PID "$KS_CLI" "$KS_WG_CLI"
    in_ns "$KS_CLI" wg set "$KS_WG_CLI" private-key "$KS_TMP/wg-cli.key" \
        peer "$KS_WG_SRV_PUB" allowed-ips 0.0.0.0/0,::/0 endpoint "$(tunnel_endpoint)"
}

N=$KS_WG_CLI
flap_kill() {
    change kill "$(sig "$N" false)" -- tunnel_kill
    change create -- tunnel_create
    change up "$(sig "$N" true)" -- tunnel_up_link
}
flap_link() {
    change down "$(sig "$N" false)" -- tunnel_down
    change up "$(sig "$N" true)" -- tunnel_up_link
}
flap_rename_match() {   # [check]: also check the properties on the way
    change down "$(sig "$N" false)" -- tunnel_down
    change "rename to $alias_match" -- rename "$N" "$alias_match"
    change "up as $alias_match" "$(sig "$alias_match" true)" -- link_set "$alias_match" up
    [[ ${1:-} == check ]] && expect_prop "renamed to $alias_match and up" ActiveTunnels "[\"$alias_match\"]"
    change "down as $alias_match" "$(sig "$alias_match" false)" -- link_set "$alias_match" down
    change "rename back" -- rename "$alias_match" "$N"
    change up "$(sig "$N" true)" -- tunnel_up_link
}
flap_rename_other() {
    change down "$(sig "$N" false)" -- tunnel_down
    change "rename to $alias_other" -- rename "$N" "$alias_other"
    [[ ${1:-} == check ]] && expect_prop "renamed to $alias_other (not a tunnel)" TunnelUp false
    change "rename back" -- rename "$alias_other" "$N"
    change up "$(sig "$N" true)" -- tunnel_up_link
}

# --------------------------------------------------------------------------

ks_step "$FLAPS flaps under a flood"
flood_start "$KS_CLI"
counters_reset
t0=${EPOCHREALTIME/./}
for ((i = 0; i < FLAPS; i++)); do
    if ((MISSED >= 10)); then
        ks_fail "stopped after $i flaps: $MISSED changes without their signals"
        break
    fi
    check=
    ((i >= 4)) || check=check   # the properties on the way, in the first round
    case $((i % 4)) in
        0) flap_kill ;;
        1) flap_link ;;
        2) flap_rename_match "$check" ;;
        3) flap_rename_other "$check" ;;
    esac
done
elapsed_ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
# A figure, not a verdict: how long depends on the machine's load (speed is bench/run's).
ks_log "# FIGURES tunnel_flap: $i flaps, $OPS changes, ${#EXPECTED[@]} signals expected, in $elapsed_ms ms"
expect_zero "changes whose signals did not all arrive within 1 s" "$MISSED"

ks_step "at the end of the flapping: the tunnel is up"
expect_prop "after flapping" TunnelUp true
expect_prop "after flapping" ActiveTunnels "[\"$N\"]"
expect_ok "traffic flows through the tunnel" tunnel_flows
ks_log "   flood: $(flood_stat sent) sent, $(flood_stat eperm) refused with EPERM; server: $(counters_summary)"
expect_no_leaks "flood during $i flaps"

ks_step "final kill"
change kill "$(sig "$N" false)" -- tunnel_kill
expect_prop "after the final kill" TunnelUp false
expect_prop "after the final kill" ActiveTunnels "[]"
sleep 0.5   # late or extra signals, and packets, would show now
flood_stop
expect_no_leaks "flood during the flaps and after the final kill"

ks_step "TunnelChanged signals"
sig_stop
report=$(sig_args TunnelChanged | "$KS_PY" -c 'import collections,sys
got=[l.strip() for l in sys.stdin if l.strip()]
sizes=[int(x) for x in sys.argv[1].split()]
starts=[int(x) for x in sys.argv[2].split()] + [len(got)]
names=sys.argv[3].split("\t")
want=sys.argv[4:]
print("total %d %d" % (len(got), len(want)))
cw, cg = collections.Counter(want), collections.Counter(got)
for k in sorted(set(cw) | set(cg)):
    print("kind %s %d %d" % (k, cg[k], cw[k]))
# Change by change, the signals that came between it and the next (in any
# order within one change): the first mismatch, and how many changes had one.
i, bad, first = 0, 0, None
for n, (size, name) in enumerate(zip(sizes, names)):
    w, g = sorted(want[i:i+size]), sorted(got[starts[n]:starts[n+1]])
    i += size
    if w != g:
        bad += 1
        first = first or "change %d (%s): got %s, want %s" % (n + 1, name, " ".join(g) or "nothing", " ".join(w))
print("changes %d %d" % (bad, len(sizes)))
if first:
    print("first " + first)' "${OP_SIZES[*]}" "${OP_STARTS[*]}" "$(IFS=$'\t'; echo "${OP_NAMES[*]}")" "${EXPECTED[@]}")
while read -r tag a b c; do
    case $tag in
        total) expect_eq "TunnelChanged signals in all ($OPS changes)" "$a" "$b" ;;
        kind) expect_eq "TunnelChanged $a" "$b" "$c" ;;
        changes) expect_eq "changes that produced other signals than theirs (of $b)" "$a" 0 ;;
        first) ks_log "   first: $a $b $c" ;;
    esac
done <<<"$report"

ks_finish
