#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# killswitchctl, end to end: the real daemon on a private bus, serving the
# client namespace.  Every subcommand is run and its effect checked where it
# lands: the daemon's properties (busctl, not killswitchctl, so the client is
# not checked against itself) and the kernel's table.  Then every documented
# exit status: 2 usage, 3 unreachable, 4 access denied, 5 invalid arguments,
# 6 not found, 7 limit exceeded (8, the kernel refusing a transaction, cannot
# be provoked from here).  `monitor` must print PropertiesChanged,
# TunnelChanged, NetworkChanged and Tampered as they happen.

source "$(dirname "$0")/lib.sh"
ks_init test_killswitchctl
for tool in dbus-daemon busctl setpriv timeout; do
    command -v "$tool" >/dev/null || ks_die "missing tool: $tool"
done
[[ -x $KILLSWITCHCTL ]] || ks_die "KILLSWITCHCTL=$KILLSWITCHCTL is not executable"
ks_log "# killswitchctl=$KILLSWITCHCTL"

topo_create
tunnel_up
state=$KS_TMP/state
mkdir -p "$state"   # systemd's StateDirectory= would make it
start_daemon "$KS_CLI" "$state"
# The unprivileged caller must reach the bus socket in our temp dir.
chmod o+x "$KS_TMP"

# --------------------------------------------------------------------------
# Helpers

# ctl [ARGS...]: run killswitchctl; exit status in CTL_RC, output in
# CTL_OUT / CTL_ERR (files).  Never fails, so set -e stays out of the way.
CTL_OUT=$KS_TMP/ctl.out
CTL_ERR=$KS_TMP/ctl.err
ctl() {
    CTL_RC=0
    "$KILLSWITCHCTL" "$@" >"$CTL_OUT" 2>"$CTL_ERR" </dev/null || CTL_RC=$?
}
ctl_stdin() {   # FILE ARGS...: as ctl, with FILE on standard input
    local input=$1; shift
    CTL_RC=0
    "$KILLSWITCHCTL" "$@" >"$CTL_OUT" 2>"$CTL_ERR" <"$input" || CTL_RC=$?
}

# expect_rc DESC WANT ARGS...: killswitchctl ARGS exits with WANT.
expect_rc() {
    local desc=$1 want=$2; shift 2
    ctl "$@"
    if [[ $CTL_RC == "$want" ]]; then
        ks_pass "$desc: killswitchctl $* exits $want $(head -n 1 "$CTL_ERR")"
    else
        ks_fail "$desc: killswitchctl $* exits $CTL_RC, want $want (stderr: $(head -c 300 "$CTL_ERR"))"
    fi
}

# expect_stderr DESC PATTERN: the last killswitchctl's stderr has this line (grep -E).
expect_stderr() {
    if grep -qE "$2" "$CTL_ERR"; then ks_pass "$1"; else ks_fail "$1 (stderr: $(cat "$CTL_ERR"))"; fi
}
expect_stdout() {
    if grep -qE "$2" "$CTL_OUT"; then ks_pass "$1"; else ks_fail "$1 (stdout: $(cat "$CTL_OUT"))"; fi
}

bus() { busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" "$@"; }

# prop NAME: the daemon's property as compact JSON, read with busctl.
prop() {
    bus --json=short get-property org.killswitchd.KillSwitch1 /org/killswitchd/KillSwitch1 \
        org.killswitchd.KillSwitch1 "$1" |
        "$KS_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"], separators=(",", ":")))'
}

# settings_json: GetSettings as one JSON object {key: value}, keys sorted.
settings_json() {
    bus --json=short call org.killswitchd.KillSwitch1 /org/killswitchd/KillSwitch1 \
        org.killswitchd.KillSwitch1 GetSettings |
        "$KS_PY" -c 'import json,sys
d=json.load(sys.stdin)["data"][0]
print(json.dumps({k: v["data"] for k, v in d.items()}, sort_keys=True, separators=(",", ":")))'
}

prop_has() { prop "$1" | grep -qF -- "$2"; }   # NAME STRING

# expect_prop NAME WANT: the property (compact JSON) equals WANT.
expect_prop() { expect_eq "property $1" "$(prop "$1")" "$2"; }

# The kernel's view: our table in the client namespace, as JSON text.
table_json() { nft_table_json "$KS_CLI" 2>/dev/null || true; }
expect_table_has() {   # DESC STRING: the table exists and mentions STRING
    if table_json | grep -qF -- "$2"; then ks_pass "$1"; else ks_fail "$1 (\"$2\" not in table inet killswitchd)"; fi
}
expect_table_lacks() {
    if table_json | grep -qF -- "$2"; then ks_fail "$1 (\"$2\" still in table inet killswitchd)"; else ks_pass "$1"; fi
}

tun=$KS_WG_CLI

# --------------------------------------------------------------------------
ks_step "help and version (no bus needed)"

ctl --version
expect_eq "--version exits 0" "$CTL_RC" 0
expect_stdout "--version prints the version" '^killswitchctl [0-9]+\.[0-9]+'
for verb in status enable disable endpoint tunnel lan dhcp persist apply monitor help; do
    ctl "$verb" --help
    expect_eq "$verb --help exits 0" "$CTL_RC" 0
    expect_stdout "$verb --help shows its usage" "^Usage: killswitchctl $verb"
done
ctl --help
expect_stdout "--help documents the exit statuses" '^  8  the kernel refused'
expect_rc "unknown command" 2 frobnicate
expect_rc "unknown option" 2 --frobnicate
expect_rc "missing arguments" 2 endpoint add 198.51.100.7
expect_rc "too many arguments" 2 enable now
expect_rc "--json where it means nothing" 2 enable --json

# --------------------------------------------------------------------------
ks_step "status"

expect_rc "status" 0 status
expect_stdout "status: disabled at first" 'Kill switch: disabled'
expect_rc "no command means status" 0
expect_stdout "no command: status" 'Kill switch: disabled'
if grep -q $'\033' "$CTL_OUT"; then ks_fail "status: colour written to a pipe"; else ks_pass "status: no colour on a pipe"; fi
if command -v script >/dev/null; then   # a terminal, from util-linux
    TERM=xterm script -qec "$KILLSWITCHCTL status" /dev/null >"$KS_TMP/tty.out" </dev/null || true
    if grep -q $'\033\[' "$KS_TMP/tty.out"; then ks_pass "status: colour on a terminal"; else ks_fail "status: no colour on a terminal"; fi
    NO_COLOR=1 TERM=xterm script -qec "$KILLSWITCHCTL status" /dev/null >"$KS_TMP/tty.out" </dev/null || true
    if grep -q $'\033\[' "$KS_TMP/tty.out"; then ks_fail "status: colour despite NO_COLOR"; else ks_pass "status: NO_COLOR is honoured"; fi
fi

# --------------------------------------------------------------------------
ks_step "enable and disable"

expect_rc "enable" 0 enable
expect_prop Enabled true
expect_ok "enable: table inet killswitchd is in the kernel" table_present "$KS_CLI"
expect_rc "enable again (idempotent)" 0 enable
expect_rc "disable" 0 disable
expect_prop Enabled false
expect_not "disable: the table is gone" table_present "$KS_CLI"
expect_rc "disable again (idempotent)" 0 disable

# --------------------------------------------------------------------------
ks_step "tunnel add|remove"

expect_rc "tunnel add $tun" 0 tunnel add "$tun"
expect_prop Tunnels "[\"$tun\"]"
expect_rc "tunnel add 'tun*'" 0 tunnel add 'tun*'
expect_prop Tunnels "[\"$tun\",\"tun*\"]"
expect_rc "enable" 0 enable
expect_table_has "the table names tunnel $tun" "\"$tun\""
expect_table_has "the table names the pattern tun*" "tun*"
wait_until 5 prop_has ActiveTunnels "\"$tun\"" 2>/dev/null || true
expect_prop ActiveTunnels "[\"$tun\"]"
expect_prop TunnelUp true
expect_rc "status" 0 status
expect_stdout "status: $tun is up" "Tunnels: $tun \\(up\\)"
expect_stdout "status: tun* is down" "^ +tun\\* \\(down\\)"
expect_rc "tunnel remove 'tun*'" 0 tunnel remove 'tun*'
expect_prop Tunnels "[\"$tun\"]"
expect_table_lacks "the pattern left the table" "tun*"
expect_rc "tunnel remove absent" 6 tunnel remove 'tun*'
expect_stderr "NotFound is named" '^killswitchctl: org\.killswitchd\.Error\.NotFound: '
expect_rc "tunnel with a bad name" 5 tunnel add 'this-name-is-too-long-for-linux'
expect_stderr "InvalidArgs is named" '^killswitchctl: org\.freedesktop\.DBus\.Error\.InvalidArgs: '
expect_rc "tunnel frobnicate" 2 tunnel frobnicate x

# At most 32 tunnels: 31 more fit beside $tun, the 33rd does not.
for i in $(seq 1 31); do
    ctl tunnel add "t$i"
    [[ $CTL_RC == 0 ]] || { ks_fail "tunnel add t$i exits $CTL_RC ($(cat "$CTL_ERR"))"; break; }
done
expect_eq "32 tunnels" "$(prop Tunnels | "$KS_PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" 32
expect_rc "a 33rd tunnel" 7 tunnel add t32
expect_stderr "LimitExceeded is named" '^killswitchctl: org\.killswitchd\.Error\.LimitExceeded: '
expect_eq "still 32 tunnels" "$(prop Tunnels | "$KS_PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" 32
for i in $(seq 1 31); do ctl tunnel remove "t$i"; done
expect_prop Tunnels "[\"$tun\"]"

# --------------------------------------------------------------------------
ks_step "endpoint add|remove"

expect_rc "endpoint add (udp by default)" 0 endpoint add "$KS_SRV_V4" "$KS_WG_PORT"
expect_prop Endpoints "[[\"$KS_SRV_V4\",$KS_WG_PORT,\"udp\"]]"
expect_table_has "the table has the IPv4 endpoint" "\"$KS_SRV_V4\""
expect_rc "endpoint add IPv6 tcp" 0 endpoint add "$KS_SRV_V6" 443 tcp
expect_table_has "the table has the IPv6 endpoint" "\"$KS_SRV_V6\""
ctl status
expect_stdout "status shows both endpoints" "Endpoints: $KS_SRV_V4:$KS_WG_PORT/udp"
expect_stdout "status brackets the IPv6 endpoint" "^ +\\[$KS_SRV_V6\\]:443/tcp"
expect_rc "endpoint remove IPv6 tcp" 0 endpoint remove "$KS_SRV_V6" 443 tcp
expect_prop Endpoints "[[\"$KS_SRV_V4\",$KS_WG_PORT,\"udp\"]]"
expect_table_lacks "the IPv6 endpoint left the table" "\"$KS_SRV_V6\""
expect_rc "endpoint remove absent" 6 endpoint remove "$KS_SRV_V6" 443 tcp
expect_rc "endpoint with a bad address" 5 endpoint add 198.51.100.300 51820
expect_rc "endpoint with a host name" 5 endpoint add vpn.example.com 51820
expect_rc "endpoint with port 0 (the daemon refuses)" 5 endpoint add 198.51.100.7 0
expect_stderr "port 0: the daemon's message" 'InvalidArgs: .*port'
expect_rc "endpoint with a bad protocol" 5 endpoint add 198.51.100.7 51820 icmp
expect_rc "endpoint with port 70000 (not a q)" 2 endpoint add 10.0.0.1 70000
expect_rc "endpoint with port -1" 2 endpoint add 10.0.0.1 -1
expect_rc "endpoint with port 5x" 2 endpoint add 10.0.0.1 5x
expect_prop Endpoints "[[\"$KS_SRV_V4\",$KS_WG_PORT,\"udp\"]]"
expect_ok "the tunnel flows with the kill switch set up by killswitchctl" tunnel_flows

# --------------------------------------------------------------------------
ks_step "lan, dhcp, persist"

expect_rc "lan on" 0 lan on
expect_prop AllowLan true
wait_until 5 prop_has LanSubnets '"10.200.0.0/24"' || true
expect_eq "LanSubnets has the veth's subnet" "$(prop LanSubnets | grep -c '"10.200.0.0/24"')" 1
ctl status
expect_stdout "status: LAN allowed with its subnets" 'LAN: allowed \(.*10\.200\.0\.0/24'
expect_rc "lan off" 0 lan off
expect_prop AllowLan false
expect_prop LanSubnets '[]'
expect_rc "dhcp off" 0 dhcp off
expect_prop AllowDhcp false
expect_rc "dhcp on" 0 dhcp on
expect_prop AllowDhcp true
expect_rc "persist on" 0 persist on
expect_prop Persistent true
expect_rc "persist off" 0 persist off
expect_prop Persistent false
expect_rc "lan maybe" 2 lan maybe

# --------------------------------------------------------------------------
ks_step "status --json"

expect_rc "status --json" 0 status --json
expect_ok "status --json is JSON" "$KS_PY" -m json.tool "$CTL_OUT"
cp "$CTL_OUT" "$KS_TMP/status.json"
for p in Enabled Persistent Tunnels Endpoints EndpointMark AllowLan AllowDhcp TunnelUp \
         ActiveTunnels LanSubnets Protection Version; do
    got=$("$KS_PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))[sys.argv[2]]
if sys.argv[2] == "Endpoints":   # objects in killswitchctl, structs in busctl
    v=[[e["address"], e["port"], e["protocol"]] for e in v]
print(json.dumps(v, separators=(",", ":")))' "$KS_TMP/status.json" "$p")
    expect_eq "status --json $p matches the property" "$got" "$(prop "$p")"
done
blocked=$("$KS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["BlockedPackets"])' "$KS_TMP/status.json")
expect_ge "status --json BlockedPackets is a count no greater than the daemon's now" "$(prop BlockedPackets)" "$blocked"

# --------------------------------------------------------------------------
ks_step "apply"

cat >"$KS_TMP/settings.json" <<EOF
{"Enabled": true, "Persistent": true, "AllowLan": true, "AllowDhcp": false,
 "Tunnels": ["$tun", "tun*"],
 "Endpoints": [{"address": "$KS_SRV_V4", "port": $KS_WG_PORT, "protocol": "udp"},
               ["$KS_SRV_V6", $KS_WG_PORT]],
 "EndpointMark": 4660}
EOF
expect_rc "apply FILE" 0 apply "$KS_TMP/settings.json"
want=$("$KS_PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
d.setdefault("EndpointAnyUser", False)  # not in the file: their defaults
d.update({k: v for k, v in (("ExemptCgroups", []), ("Scope", "system"), ("ScopedCgroups", [])) if k not in d})
d["Endpoints"]=sorted([[e["address"], e["port"], e["protocol"]] if isinstance(e, dict) else e + ["udp"]
                       for e in d["Endpoints"]])
print(json.dumps(d, sort_keys=True, separators=(",", ":")))' "$KS_TMP/settings.json")
got=$(settings_json | "$KS_PY" -c 'import json,sys
d=json.load(sys.stdin); d["Endpoints"]=sorted(d["Endpoints"])
print(json.dumps(d, sort_keys=True, separators=(",", ":")))')
expect_eq "GetSettings after apply FILE" "$got" "$want"
expect_table_has "the table matches the fwmark" '"mark"'
expect_table_has "the table has the fwmark's value" "4660"
expect_table_has "the table has the IPv6 endpoint from the array form" "\"$KS_SRV_V6\""

before=$(settings_json)
echo '{"AllowLan": false, "EndpointMark": 0, "Persistent": false}' >"$KS_TMP/small.json"
ctl_stdin "$KS_TMP/small.json" apply
expect_eq "apply from standard input" "$CTL_RC" 0
ctl_stdin "$KS_TMP/small.json" apply -
expect_eq "apply - (standard input)" "$CTL_RC" 0
expect_prop AllowLan false
expect_prop EndpointMark 0
expect_prop Tunnels "[\"$tun\",\"tun*\"]"
before=$(settings_json)

apply_fails() {   # DESC WANT JSON: apply exits WANT and nothing changes
    printf '%s\n' "$3" >"$KS_TMP/bad.json"
    expect_rc "$1" "$2" apply "$KS_TMP/bad.json"
    expect_eq "$1: settings unchanged" "$(settings_json)" "$before"
}
apply_fails "apply: an unknown key is the daemon's to refuse" 5 '{"Enabled": false, "Frobnicate": 1}'
apply_fails "apply: a bad address" 5 '{"Endpoints": [["198.51.100.300", 1, "udp"]]}'
apply_fails "apply: 33 tunnels" 7 "{\"Tunnels\": [$(seq -s, -f '"t%g"' 1 33)]}"
apply_fails "apply: port 70000 cannot be a q" 2 '{"Endpoints": [["198.51.100.7", 70000, "udp"]]}'
apply_fails "apply: a string for a boolean" 2 '{"Enabled": "yes"}'
apply_fails "apply: a negative EndpointMark" 2 '{"EndpointMark": -1}'
apply_fails "apply: not JSON" 2 '{"Enabled": true'
apply_fails "apply: not an object" 2 '["Enabled", true]'
expect_rc "apply: a missing file" 1 apply "$KS_TMP/no-such-file.json"

# --------------------------------------------------------------------------
ks_step "access: an unprivileged caller reads but cannot change"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
CTL_RC=0
as_nobody "$KILLSWITCHCTL" status >"$CTL_OUT" 2>"$CTL_ERR" || CTL_RC=$?
expect_eq "status as nobody" "$CTL_RC" 0
expect_stdout "status as nobody shows the state" 'Kill switch: enabled'
for cmd in "disable" "lan on" "tunnel add wg9" "endpoint add 198.51.100.9 1"; do
    CTL_RC=0
    # shellcheck disable=SC2086 # the command's words
    as_nobody "$KILLSWITCHCTL" $cmd >"$CTL_OUT" 2>"$CTL_ERR" || CTL_RC=$?
    expect_eq "$cmd as nobody: AccessDenied" "$CTL_RC" 4
done
expect_stderr "AccessDenied is named" '^killswitchctl: org\.freedesktop\.DBus\.Error\.AccessDenied: '
expect_eq "nobody changed nothing" "$(settings_json)" "$before"

# --------------------------------------------------------------------------
ks_step "monitor"

mon_pid="" monj_pid="" daemon_pid=""
mon_log=$KS_TMP/monitor.log
monj_log=$KS_TMP/monitor-json.log
ks_spawn mon_pid "$mon_log" timeout 60 "$KILLSWITCHCTL" monitor
ks_spawn monj_pid "$monj_log" timeout 60 "$KILLSWITCHCTL" monitor --json
# The note on stderr comes once the subscriptions are in place.
wait_until 5 grep -q '^Monitoring' "$mon_log" || ks_fail "monitor did not start ($(cat "$mon_log"))"
wait_until 5 grep -q '^Monitoring' "$monj_log" || ks_fail "monitor --json did not start"

expect_rc "disable while monitoring" 0 disable
expect_rc "enable while monitoring" 0 enable
expect_ok "monitor: a PropertiesChanged line for enable" \
    wait_until 5 grep -qE '^PropertiesChanged .*Enabled=yes' "$mon_log"
json_line_seen() {   # JSON lines in the log, one of which satisfies the Python expression e
    "$KS_PY" - "$monj_log" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        e = json.loads(line)
        if eval(sys.argv[2]):
            sys.exit(0)
sys.exit(1)
EOF
}
expect_ok "monitor --json: a PropertiesChanged object for enable" wait_until 5 json_line_seen \
    'e["signal"] == "PropertiesChanged" and e["changed"].get("Enabled") is True'
tunnel_down
expect_ok "monitor: TunnelChanged when the tunnel goes down" \
    wait_until 5 grep -qx "TunnelChanged $tun down" "$mon_log"
expect_ok "monitor --json: TunnelChanged with its arguments named" wait_until 5 json_line_seen \
    "e == {'signal': 'TunnelChanged', 'name': '$tun', 'up': False}"
tunnel_up_link
expect_ok "monitor: TunnelChanged when it comes back" \
    wait_until 5 grep -qx "TunnelChanged $tun up" "$mon_log"
wait_until 5 prop_has TunnelUp true || true
expect_prop ActiveTunnels "[\"$tun\"]"   # each interface once, after a down/up too
# NetworkChanged: the default route outside the tunnel goes away, then comes back.
ip -n "$KS_CLI" route del default
ip -n "$KS_CLI" -6 route del default
expect_ok "monitor: NetworkChanged when the default route goes" \
    wait_until 5 grep -qx "NetworkChanged (none)" "$mon_log"
expect_ok "monitor --json: NetworkChanged with an empty interface" wait_until 5 json_line_seen \
    "e == {'signal': 'NetworkChanged', 'interface': ''}"
ip -n "$KS_CLI" route add default via "$KS_SRV_V4" dev vethc
ip -n "$KS_CLI" -6 route add default via "$KS_SRV_V6" dev vethc
expect_ok "monitor: NetworkChanged when it comes back" \
    wait_until 5 grep -qx "NetworkChanged vethc" "$mon_log"
if grep -qv '^{' <(grep -v '^Monitoring' "$monj_log"); then
    ks_fail "monitor --json: a line that is not JSON ($(grep -v '^{' "$monj_log"))"
else
    ks_pass "monitor --json: every line is a JSON object"
fi
ks_stop_pid "$mon_pid"
ks_stop_pid "$monj_pid"
expect_ok "monitor stopped by its PID" ks_pid_gone "$mon_pid"

# --------------------------------------------------------------------------
ks_step "unreachable: no daemon, no bus"

expect_rc "--address with the test bus" 0 --address "$DBUS_SYSTEM_BUS_ADDRESS" status
stop_daemon "$KS_DAEMON_PID"
KS_DAEMON_PID=
expect_rc "status with no daemon" 3 status
expect_stderr "no daemon: the bus's error is named" '^killswitchctl: org\.freedesktop\.DBus\.Error\.(ServiceUnknown|NameHasNoOwner): '
expect_rc "enable with no daemon" 3 enable
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$KS_TMP/no-such-bus expect_rc "status with no bus" 3 status
expect_rc "--address of no bus" 3 --address "unix:path=$KS_TMP/no-such-bus" status

# --------------------------------------------------------------------------
ks_step "monitor: Tampered, from a daemon that watches instead of owning the table"

# Only without the kernel's owner flag can anyone else touch the table.
if "$KILLSWITCHD" --help | grep -q -- '--protection=monitor'; then
    table_remove "$KS_CLI"   # the orphan left by the daemon stopped above
    ks_spawn daemon_pid "$KS_TMP/daemon.monitor.log" \
        ip netns exec "$KS_CLI" "$KILLSWITCHD" --state-dir "$state" --protection=monitor
    ctl_ok() { "$KILLSWITCHCTL" "$@" >/dev/null 2>&1; }
    wait_until 10 ctl_ok status || ks_die "the daemon with --protection=monitor did not come up"
    wait_until 5 prop_has Protection monitor || true
    expect_prop Protection '"monitor"'
    mon_log=$KS_TMP/monitor-tamper.log
    ks_spawn mon_pid "$mon_log" timeout 60 "$KILLSWITCHCTL" monitor
    wait_until 5 grep -q '^Monitoring' "$mon_log" || ks_fail "monitor did not start"
    in_ns "$KS_CLI" nft delete table inet killswitchd
    expect_ok "monitor: Tampered when the table is deleted behind the daemon's back" \
        wait_until 5 grep -q '^Tampered .' "$mon_log"
    ks_stop_pid "$mon_pid"
    ks_stop_pid "$daemon_pid"
else
    ks_log "# no --protection=monitor in this killswitchd: Tampered not tested"
fi

ks_finish
