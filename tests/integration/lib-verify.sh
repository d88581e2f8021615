# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for test_verify.sh: `killswitchctl verify` against the real
# daemon, the daemon started with extra options, probe counters on the
# server side of every uplink, and a second uplink between the client and
# server namespaces.  Sources lib.sh.
#
# SAFETY: as lib.sh: every link, address, route and nftables table is made
# inside the namespaces lib.sh creates (and deletes); processes are stopped
# by their recorded PIDs.

# shellcheck shell=bash
# Variables set here are read by the sourcing test.
# shellcheck disable=SC2034

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The second uplink: client side, server side, addresses.
VF_UP2=uplink2
VF_UP2_SRV=uplink2s
VF_UP2_SRV_V4=10.204.0.1  VF_UP2_SRV_V6=fd00:204::1
VF_UP2_CLI_V4=10.204.0.2  VF_UP2_CLI_V6=fd00:204::2

# The daemon's probe destinations (documentation addresses, docs/dbus-api.md).
VF_PROBE4=192.0.2.1       VF_PROBE6=2001:db8::1
VF_DNS4=192.0.2.53        VF_DNS6=2001:db8::53

# vf_init NAME: ks_init plus killswitchctl and the bus tools.
vf_init() {
    ks_init "$1"
    command -v dbus-daemon >/dev/null || ks_die "missing tool: dbus-daemon"
    [[ -x $KILLSWITCHCTL ]] || ks_die "KILLSWITCHCTL=$KILLSWITCHCTL is not executable"
    ks_log "# killswitchctl=$KILLSWITCHCTL"
}

# --------------------------------------------------------------------------
# The daemon

# vf_start_daemon NS DIR [OPTION...]: lib.sh's start_daemon (private bus,
# READY=1), with daemon options passed through an exec wrapper: the PID
# recorded is still the daemon's.  PID in KS_DAEMON_PID.
vf_start_daemon() {
    local ns=$1 dir=$2; shift 2
    mkdir -p "$dir"
    if (($#)); then
        local wrapper=$KS_TMP/killswitchd-options.$((++KS_SEQ))
        {
            printf '#!/bin/sh\nexec %q' "$KILLSWITCHD"
            printf ' %q' "$@"
            printf ' "$@"\n'
        } >"$wrapper"
        chmod +x "$wrapper"
        KILLSWITCHD=$wrapper start_daemon "$ns" "$dir"
    else
        start_daemon "$ns" "$dir"
    fi
}

vf_stop_daemon() {
    [[ -n ${KS_DAEMON_PID:-} ]] && stop_daemon "$KS_DAEMON_PID"
    KS_DAEMON_PID=
}

# ctl ARGS...: run killswitchctl; exit status in CTL_RC, output in the
# files CTL_OUT / CTL_ERR.  Never fails.
ctl() {
    CTL_OUT=$KS_TMP/ctl.out CTL_ERR=$KS_TMP/ctl.err CTL_RC=0
    "$KILLSWITCHCTL" "$@" >"$CTL_OUT" 2>"$CTL_ERR" </dev/null || CTL_RC=$?
}

# ctl_must ARGS...: a killswitchctl command the test relies on.
ctl_must() {
    ctl "$@"
    ((CTL_RC == 0)) || ks_die "killswitchctl $* exited $CTL_RC: $(head -c 300 "$CTL_ERR")"
}

# vf_status KEY: one field of `killswitchctl status --json`, as JSON.
vf_status() {
    ctl status --json
    "$KS_PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' \
        "$CTL_OUT" "$1" 2>/dev/null || echo "?"
}

# --------------------------------------------------------------------------
# killswitchctl verify

# vf_verify: run `killswitchctl verify --json` and `killswitchctl verify`.
# Sets VF_RC / VF_TEXT_RC (exit statuses), VF_JSON_OK (1 when the JSON
# parsed into a list of {check, passed, status, detail}), VF_CHECKS (names
# in order), VF_PASSED[name] (1/0), VF_STATUS[name] (ok/warning/fail),
# VF_DETAIL[name], VF_FAILED (failed names, space separated), VF_WARNED
# (likewise), VF_TEXT (the text form).
declare -A VF_PASSED=() VF_DETAIL=() VF_STATUS=()
vf_verify() {
    local out=$KS_TMP/verify.json err=$KS_TMP/verify.err parsed name passed detail
    VF_RC=0
    "$KILLSWITCHCTL" verify --json >"$out" 2>"$err" </dev/null || VF_RC=$?
    VF_TEXT_RC=0
    VF_TEXT=$("$KILLSWITCHCTL" verify 2>&1 </dev/null) || VF_TEXT_RC=$?
    VF_PASSED=() VF_DETAIL=() VF_STATUS=() VF_CHECKS=() VF_FAILED='' VF_WARNED='' VF_JSON_OK=0
    if parsed=$("$KS_PY" -c 'import json,sys
v = json.load(open(sys.argv[1]))
assert isinstance(v, list) and v
for c in v:
    assert set(c) == {"check", "passed", "status", "detail"}, c
    assert isinstance(c["passed"], bool) and isinstance(c["detail"], str)
    assert c["status"] in ("ok", "warning", "fail") and c["passed"] == (c["status"] != "fail"), c
    print("%s\t%d\t%s\t%s" % (c["check"], c["passed"], c["status"], c["detail"].replace("\t", " ").replace("\n", " ")))' "$out" 2>"$KS_TMP/verify.parse"); then
        VF_JSON_OK=1
    else
        VF_JSON_OK=0
        ks_log "# verify --json (exit $VF_RC) did not parse: $(head -c 300 "$out") $(head -c 300 "$err") $(tail -n 1 "$KS_TMP/verify.parse")"
        return 0
    fi
    while IFS=$'\t' read -r name passed status detail; do
        VF_CHECKS+=("$name")
        VF_PASSED[$name]=$passed
        VF_STATUS[$name]=$status
        VF_DETAIL[$name]=$detail
        ((passed)) || VF_FAILED+="${VF_FAILED:+ }$name"
        [[ $status != warning ]] || VF_WARNED+="${VF_WARNED:+ }$name"
    done <<<"$parsed"
}

# The whole report on one line, for failure messages.
vf_report() {
    local name s=
    for name in "${VF_CHECKS[@]}"; do
        s+="[$name $( ((VF_PASSED[$name])) && echo ok || echo FAIL): ${VF_DETAIL[$name]}] "
    done
    printf '%s' "${s:-no report}"
}

vf_log_report() {
    local name
    for name in "${VF_CHECKS[@]}"; do
        ks_log "#   $name $( ((VF_PASSED[$name])) && echo ok || echo FAIL): ${VF_DETAIL[$name]}"
    done
}

# expect_verify_passes DESC: every check passed, both forms exit 0, the
# JSON parses, the text form says so.
expect_verify_passes() {
    local desc=$1 name
    vf_verify
    vf_log_report
    expect_eq "$desc: verify --json parses" "$VF_JSON_OK" 1
    expect_eq "$desc: killswitchctl verify --json exit status" "$VF_RC" 0
    expect_eq "$desc: killswitchctl verify exit status" "$VF_TEXT_RC" 0
    if [[ -z $VF_FAILED && ${#VF_CHECKS[@]} -gt 0 ]]; then
        ks_pass "$desc: all ${#VF_CHECKS[@]} checks passed (${VF_CHECKS[*]})"
    else
        ks_fail "$desc: failed checks: ${VF_FAILED:-none reported} ($(vf_report))"
    fi
    for name in table policies outside dns tunnel lan unsolicited frames boot; do
        [[ -n ${VF_PASSED[$name]:-} ]] || ks_fail "$desc: check '$name' missing from the report"
    done
    expect_eq "$desc: no warnings" "${VF_WARNED:-none}" none
    if grep -qE "^${#VF_CHECKS[@]} of ${#VF_CHECKS[@]} checks passed$" <<<"$VF_TEXT"; then
        ks_pass "$desc: text form ends '${#VF_CHECKS[@]} of ${#VF_CHECKS[@]} checks passed'"
    else
        ks_fail "$desc: text form: $VF_TEXT"
    fi
}

# expect_verify_fails DESC CHECK...: after vf_verify, exactly these checks
# failed (order as given does not matter), both forms exit 1 and the text
# form marks each one [FAIL].
expect_verify_fails() {
    local desc=$1 name; shift
    local want got
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    local -a failed
    read -r -a failed <<<"$VF_FAILED"
    got=$(printf '%s\n' "${failed[@]}" | sort | tr '\n' ' ')
    expect_eq "$desc: verify --json parses" "$VF_JSON_OK" 1
    expect_eq "$desc: killswitchctl verify --json exit status" "$VF_RC" 1
    expect_eq "$desc: killswitchctl verify exit status" "$VF_TEXT_RC" 1
    if [[ $got == "$want" ]]; then
        ks_pass "$desc: failed checks are exactly: ${want% }"
    else
        ks_fail "$desc: failed checks: '${got% }', want '${want% }' ($(vf_report))"
    fi
    for name in "$@"; do
        if grep -qE "^\[FAIL\] +$name " <<<"$VF_TEXT"; then
            ks_pass "$desc: text form marks '$name' [FAIL]"
        else
            ks_fail "$desc: text form does not mark '$name' [FAIL]: $VF_TEXT"
        fi
    done
}

# expect_detail DESC CHECK NEEDLE...: the check's detail holds every
# needle (fixed strings).
expect_detail() {
    local desc=$1 check=$2 needle missing=; shift 2
    local detail=${VF_DETAIL[$check]:-}
    for needle in "$@"; do
        [[ $detail == *"$needle"* ]] || missing+=" '$needle'"
    done
    if [[ -z ${VF_PASSED[$check]:-} ]]; then
        ks_fail "$desc: no check '$check' in the report ($(vf_report))"
    elif [[ -n $missing ]]; then
        ks_fail "$desc: $check detail lacks$missing: $detail"
    else
        ks_pass "$desc: $check detail: $detail"
    fi
}

# --------------------------------------------------------------------------
# The table, from outside the daemon

# nft_other is lib.sh's "another process"; these pick the objects to break.

# rule_handle NS CHAIN REGEX: handle of the first rule of CHAIN whose text
# (as `nft -a list chain` prints it) matches REGEX.
rule_handle() {
    in_ns "$1" nft -a list chain inet killswitchd "$2" |
        awk -v re="$3" '$0 ~ re && /# handle [0-9]+$/ { print $NF; exit }'
}

# vf_restore: the daemon rebuilds its table from the settings (disable,
# enable: the table is removed and installed whole).
vf_restore() {
    ctl_must disable
    ctl_must enable
}

# --------------------------------------------------------------------------
# Probe counters on the server side

# Packets to the daemon's probe addresses, by the server-side interface
# they came in on.  Installed in the server namespace, beside lib.sh's
# kscount; each uplink gets its own chain.
vf_counters_install() {
    in_ns "$KS_SRV" nft -f - <<'EOF'
table inet ksverify {
    chain pre {
        type filter hook prerouting priority -450; policy accept;
    }
}
EOF
    vf_counters_add veths
}

# vf_counters_add IFNAME: count probe packets arriving on IFNAME (server side).
vf_counters_add() {
    local i=$1
    in_ns "$KS_SRV" nft -f - <<EOF
table inet ksverify {
    counter probe4_$i { }
    counter probe6_$i { }
    counter dns4_$i { }
    counter dns6_$i { }
    chain from_$i {
        ip daddr $VF_PROBE4 counter name "probe4_$i"
        ip6 daddr $VF_PROBE6 counter name "probe6_$i"
        ip daddr $VF_DNS4 counter name "dns4_$i"
        ip6 daddr $VF_DNS6 counter name "dns6_$i"
    }
}
add rule inet ksverify pre iifname "$i" jump from_$i
EOF
}

# vf_count NAME...: sum of the named ksverify counters (packets).
vf_count() {
    in_ns "$KS_SRV" nft list counters table inet ksverify |
        awk -v want=" $* " '$1 == "counter" { name = $2 }
            $1 == "packets" && index(want, " " name " ") { t += $2 }
            END { print t + 0 }'
}
vf_counters_reset() { in_ns "$KS_SRV" nft reset counters table inet ksverify >/dev/null; }
vf_counted() { (($(vf_count "$@") > 0)); }
vf_summary() {
    in_ns "$KS_SRV" nft list counters table inet ksverify |
        awk '$1 == "counter" { name = $2 }
            $1 == "packets" { out = out sep name "=" $2; sep = " " }
            END { print out }'
}

# --------------------------------------------------------------------------
# A second uplink

# vf_uplink_add: another veth from the client to the server namespace,
# with addresses on both ends and default routes through it that rank
# below the first uplink's (so the tunnel keeps using vethc).
vf_uplink_add() {
    ip -n "$KS_CLI" link add "$VF_UP2" type veth peer name "$VF_UP2_SRV" netns "$KS_SRV"
    ip -n "$KS_SRV" addr add "$VF_UP2_SRV_V4/24" dev "$VF_UP2_SRV"
    ip -n "$KS_SRV" addr add "$VF_UP2_SRV_V6/64" dev "$VF_UP2_SRV" nodad
    ip -n "$KS_SRV" link set "$VF_UP2_SRV" up
    ip -n "$KS_CLI" addr add "$VF_UP2_CLI_V4/24" dev "$VF_UP2"
    ip -n "$KS_CLI" addr add "$VF_UP2_CLI_V6/64" dev "$VF_UP2" nodad
    ip -n "$KS_CLI" link set "$VF_UP2" up
    ip -n "$KS_CLI" route add default via "$VF_UP2_SRV_V4" dev "$VF_UP2" metric 200
    ip -n "$KS_CLI" -6 route add default via "$VF_UP2_SRV_V6" dev "$VF_UP2" metric 2048
    vf_counters_add "$VF_UP2_SRV"
}
