# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the tests that drive killswitchd through its D-Bus API only
# (docs/dbus-api.md): busctl against the private bus of lib.sh's start_bus,
# error names and reply cookies read from busctl's own sd-bus debug log, a
# bus monitor to check signals and their order, polkit stand-ins, and a
# process that owns a table of the same name.  Sources lib.sh.
#
# SAFETY: as lib.sh: namespaces only, processes stopped by their PIDs.

# shellcheck disable=SC2034 # names and results are for the tests that source this
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KS_BUS_NAME=org.killswitchd.KillSwitch1
KS_BUS_PATH=/org/killswitchd/KillSwitch1
KS_BUS_IFACE=org.killswitchd.KillSwitch1
KS_E_INVALID=org.freedesktop.DBus.Error.InvalidArgs
KS_E_DENIED=org.freedesktop.DBus.Error.AccessDenied
KS_E_NOT_FOUND=org.killswitchd.Error.NotFound
KS_E_LIMIT=org.killswitchd.Error.LimitExceeded
KS_E_KERNEL=org.killswitchd.Error.Kernel

# Who runs busctl: empty for root, as_nobody's prefix for an unprivileged caller.
KS_BUS_RUNAS=()
KS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# ks_bus_init NAME: ks_init plus the bus tools and the Python helper.
ks_bus_init() {
    ks_init "$1"
    local tool
    for tool in dbus-daemon busctl setpriv timeout; do
        command -v "$tool" >/dev/null || ks_die "missing tool: $tool"
    done
    ks_write_bus_helper
}

# --------------------------------------------------------------------------
# Calling the daemon

bus() { busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" "$@"; }

# bus_try BUSCTL-ARGS...: run busctl as KS_BUS_RUNAS; never fails.  Sets
# BUS_RC, BUS_OUT (stdout), BUS_ERR_NAME and BUS_ERR_MSG (the error reply,
# empty on success), BUS_UNIQUE and BUS_COOKIE (the caller's bus name and
# the call's serial, to find its reply in the monitor log).  busctl prints
# only a message ("Access denied" for AccessDenied); its sd-bus debug log
# has the reply's error name.  The stack limit is raised for the call
# alone: 65537 endpoints are ~200000 arguments.
bus_try() {
    local out=$KS_TMP/busctl.out err=$KS_TMP/busctl.err
    BUS_RC=0
    (
        ulimit -S -s 65536 2>/dev/null || true
        exec env SYSTEMD_LOG_LEVEL=debug "${KS_BUS_RUNAS[@]}" \
            busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" "$@"
    ) >"$out" 2>"$err" </dev/null || BUS_RC=$?
    BUS_OUT=$(<"$out")
    # (Nothing of this when busctl refused to build the call.)
    BUS_UNIQUE=$(sed -n 's/^Got message type=method_return sender=org\.freedesktop\.DBus destination=\([^ ]*\) .* reply_cookie=1 .*/\1/p' "$err" | head -n 1)
    BUS_COOKIE=$(sed -n "s/^Sent message type=method_call .*destination=$KS_BUS_NAME .* cookie=\([0-9]*\) .*/\1/p" "$err" | tail -n 1)
    BUS_ERR_NAME='' BUS_ERR_MSG=''
    local line
    line=$(grep "^Got message type=error .* reply_cookie=${BUS_COOKIE:-x} " "$err" | tail -n 1 || true)
    if [[ -n $line ]]; then
        BUS_ERR_NAME=$(sed 's/.* error-name=\(.*\) error-message=.*/\1/' <<<"$line")
        BUS_ERR_MSG=${line#* error-message=}
    fi
    if ((BUS_RC != 0)) && [[ -z $BUS_ERR_NAME ]]; then
        BUS_ERR_MSG=$(grep -v -e '^Bus busctl:' -e '^sd-bus:' -e '^Sent message' -e '^Got message' "$err" | head -c 300)
    fi
    return 0
}

# bus_do VERB ARGS...: one operation on the daemon's object, through bus_try.
#   call METHOD [SIGNATURE ARGS...]   set PROPERTY SIGNATURE VALUE
#   get PROPERTY                      introspect
bus_do() {
    local verb=$1; shift
    case $verb in
        call) bus_try call "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" "$@" ;;
        set) bus_try set-property "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" "$@" ;;
        get) bus_try --json=short get-property "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" "$@" ;;
        introspect) bus_try introspect "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" "$@" ;;
        *) ks_die "bus_do: unknown verb $verb" ;;
    esac
}

# as_nobody CMD...: run CMD (a shell function using bus_try) as an
# unprivileged caller.  The bus socket is in the test's temp dir.
as_nobody() {
    chmod o+x "$KS_TMP"
    local saved=("${KS_BUS_RUNAS[@]}")
    KS_BUS_RUNAS=("${KS_NOBODY[@]}")
    "$@"
    local rc=$?
    KS_BUS_RUNAS=("${saved[@]}")
    return "$rc"
}

bus_what() { printf '%s' "${*:1:6}" | cut -c 1-120; }

# expect_bus_ok DESC VERB ARGS...: the operation succeeds.
expect_bus_ok() {
    local desc=$1; shift
    bus_do "$@"
    if ((BUS_RC == 0)); then
        ks_pass "$desc"
    else
        ks_fail "$desc ($(bus_what "$@"): ${BUS_ERR_NAME:-busctl exit $BUS_RC}: $BUS_ERR_MSG)"
    fi
}

# expect_bus_error DESC ERROR-NAME NEEDLES VERB ARGS...: the operation fails
# with this error name and a message containing every needle (NEEDLES:
# fixed strings separated by '|'; empty for none).
expect_bus_error() {
    local desc=$1 want=$2 needles=$3 needle missing=; shift 3
    bus_do "$@"
    if ((BUS_RC == 0)); then
        ks_fail "$desc: succeeded, want $want ($(bus_what "$@"))"
        return 0
    fi
    if [[ $BUS_ERR_NAME != "$want" ]]; then
        ks_fail "$desc: got ${BUS_ERR_NAME:-no error name} ($BUS_ERR_MSG), want $want"
        return 0
    fi
    local list=()
    IFS='|' read -r -a list <<<"$needles"
    for needle in "${list[@]}"; do
        [[ $BUS_ERR_MSG == *"$needle"* ]] || missing+=" '$needle'"
    done
    if [[ -n $missing ]]; then
        ks_fail "$desc: $want, but the message lacks$missing: $BUS_ERR_MSG"
    else
        ks_pass "$desc: $want: $BUS_ERR_MSG"
    fi
}

# prop NAME: the property's value as compact JSON (busctl's JSON form).
prop() {
    bus --json=short get-property "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" "$1" |
        "$KS_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"], separators=(",", ":")))'
}
expect_prop() { expect_eq "property $1" "$(prop "$1")" "$2"; }
prop_is() { [[ $(prop "$1") == "$2" ]]; }
# wait_prop NAME WANT [TIMEOUT]: properties that follow the network change a little later.
wait_prop() { wait_until "${3:-3}" prop_is "$1" "$2" || true; expect_prop "$1" "$2"; }

# settings_json: GetSettings as one JSON object {key: value}, keys sorted,
# Endpoints sorted (the contract gives them no order).
settings_json() {
    bus --json=short call "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" GetSettings |
        "$KS_PY" -c 'import json,sys
d={k: v["data"] for k, v in json.load(sys.stdin)["data"][0].items()}
if isinstance(d.get("Endpoints"), list): d["Endpoints"].sort()
print(json.dumps(d, sort_keys=True, separators=(",", ":")))'
}

# endpoint_args N [PORT]: KS_EP_ARGS holds N distinct endpoints as busctl
# arguments for 'a(sqs)' (10.64.0.0 upwards, one per address).
endpoint_args() {
    mapfile -d '' KS_EP_ARGS < <("$KS_PY" -c 'import sys
n, port = int(sys.argv[1]), sys.argv[2]
out = sys.stdout
for i in range(n):
    a = 0x0A400000 + i
    out.write("%d.%d.%d.%d\0%s\0udp\0" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, port))' "$1" "${2:-1}")
}

# now_ms: a clock for reporting how long a call took.
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

# --------------------------------------------------------------------------
# The daemon

# start_bus_daemon NS DIR [DAEMON OPTION...]: the state dir, the private
# bus (exported in DBUS_SYSTEM_BUS_ADDRESS, which start_daemon's child
# inherits) and the daemon; options through an exec wrapper, so the PID is
# still the daemon's.
start_bus_daemon() {
    local ns=$1 dir=$2; shift 2
    mkdir -p "$dir"
    start_bus
    if (($#)); then
        local wrapper=$KS_TMP/killswitchd-with-options.$((++KS_SEQ))
        printf '#!/bin/sh\nexec %q' "$KILLSWITCHD" >"$wrapper"
        printf ' %q' "$@" >>"$wrapper"
        printf ' "$@"\n' >>"$wrapper"
        chmod +x "$wrapper"
        KILLSWITCHD=$wrapper start_daemon "$ns" "$dir"
    else
        start_daemon "$ns" "$dir"
    fi
}

# A bare client namespace, for tests that need no traffic.
netns_client() {
    KS_CLI=$KS_ID-cli
    netns_add "$KS_CLI"
}

# The kernel's table flags (NFTA_TABLE_FLAGS), read over netlink: nft 1.0.6
# cannot name "persist".  Empty when there is no table.
KS_TABLE_F_OWNER=2 KS_TABLE_F_PERSIST=4
table_flags() { timeout 10 ip netns exec "$1" "$KS_PY" "$KS_BUSPY" table-flags 2>/dev/null || true; }

# nft_bounded NS ARGS...: nft in NS, given up after 10 s: a listing of a
# large table restarts whenever the table changes meanwhile.
nft_bounded() { local ns=$1; shift; timeout 10 ip netns exec "$ns" nft "$@"; }

# table_handle NS: the table's handle; a whole-table rebuild changes it.
table_handle() {
    local json
    json=$(nft_bounded "$1" -j list table inet killswitchd) || return 1
    "$KS_PY" -c 'import json,sys
print(next(o["table"]["handle"] for o in json.load(sys.stdin)["nftables"] if "table" in o))' <<<"$json"
}

# table_form NS: nft_table_shape without handles: the same table rebuilt
# (a restore after tampering) has the same form.
table_form() {
    nft_table_shape "$1" | "$KS_PY" -c 'import json,sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k != "handle"}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
for l in sys.stdin:
    print(json.dumps(strip(json.loads(l)), sort_keys=True))'
}

# set_elements NS SET: the set's elements, one per line, as nft prints them.
set_elements() {
    local json
    json=$(nft_bounded "$1" -j list set inet killswitchd "$2") || return 1
    "$KS_PY" -c 'import json,sys
for o in json.load(sys.stdin)["nftables"]:
    for e in o.get("set", {}).get("elem", []):
        v = e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e
        print(" . ".join(str(x) for x in v["concat"]) if isinstance(v, dict) and "concat" in v else v)' <<<"$json"
}
# count_lines TEXT: its non-empty lines.
count_lines() { local n=0 l; while IFS= read -r l; do [[ -n $l ]] && n=$((n + 1)); done <<<"$1"; echo "$n"; }

# snapshot NS DIR / expect_unchanged DESC: the table's shape (counters
# aside, handles included: a rebuild shows) and the state file, byte for byte.
snapshot() {
    KS_SNAP_NS=$1 KS_SNAP_DIR=$2
    KS_SNAP_TABLE=$(nft_table_shape "$1" 2>/dev/null || echo "no table")
    rm -f "$KS_TMP/snapshot.conf"
    if [[ -e $2/settings.conf ]]; then cp "$2/settings.conf" "$KS_TMP/snapshot.conf"; fi
}
state_same() {
    if [[ -e $KS_TMP/snapshot.conf ]]; then
        cmp -s "$KS_TMP/snapshot.conf" "$KS_SNAP_DIR/settings.conf"
    else
        [[ ! -e $KS_SNAP_DIR/settings.conf ]]
    fi
}
expect_unchanged() {
    expect_same_table "$1: table unchanged" "$KS_SNAP_TABLE" "$(nft_table_shape "$KS_SNAP_NS" 2>/dev/null || echo "no table")"
    expect_ok "$1: settings.conf unchanged" state_same
}

# --------------------------------------------------------------------------
# Signals: one `busctl monitor` of everything the daemon sends, as JSON lines.

mon_start() {
    KS_MON_LOG=$KS_TMP/monitor.json
    ks_spawn KS_MON_PID "$KS_MON_LOG" timeout 170 busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" \
        --json=short monitor --match "sender=$KS_BUS_NAME"
    wait_until 5 grep -q '^Monitoring' "$KS_MON_LOG" || ks_die "busctl monitor did not start"
}
# mon_mark: the monitor log's length now; later checks look after it.
mon_mark() { KS_MON_MARK=$(wc -l <"$KS_MON_LOG"); }

# expect_changed DESC SPEC...: after the last bus_try call's reply (in the
# monitor log), a PropertiesChanged carries every SPEC: NAME=JSON (new
# value), NAME (any value), -NAME (invalidated, value not carried), !NAME
# (not named); and no such signal came before the reply.
expect_changed() {
    local desc=$1 out; shift
    if wait_until 3 "$KS_PY" "$KS_BUSPY" changed-after "$KS_MON_LOG" "$BUS_UNIQUE" "$BUS_COOKIE" "$@" >/dev/null; then
        ks_pass "$desc: PropertiesChanged $* after the reply"
    else
        out=$("$KS_PY" "$KS_BUSPY" changed-after "$KS_MON_LOG" "$BUS_UNIQUE" "$BUS_COOKIE" "$@" || true)
        ks_fail "$desc: $out"
    fi
}

# expect_signal DESC MEMBER JSON-ARGS: the daemon sent this signal since mon_mark.
expect_signal() {
    local desc=$1
    if wait_until 3 "$KS_PY" "$KS_BUSPY" signal-since "$KS_MON_LOG" "$KS_MON_MARK" "$2" "$3"; then
        ks_pass "$desc: signal $2$3"
    else
        ks_fail "$desc: no signal $2$3 (since line $KS_MON_MARK; got: $("$KS_PY" "$KS_BUSPY" signals-since "$KS_MON_LOG" "$KS_MON_MARK" | tr '\n' ' ' | cut -c 1-400))"
    fi
}

# expect_no_signal DESC MEMBER: the daemon sent no such signal since mon_mark.
expect_no_signal() {
    if "$KS_PY" "$KS_BUSPY" signal-since "$KS_MON_LOG" "$KS_MON_MARK" "$2" null; then
        ks_fail "$1: $2 sent ($("$KS_PY" "$KS_BUSPY" signals-since "$KS_MON_LOG" "$KS_MON_MARK" | grep "^$2" | sort | uniq -c | head -n 3 | tr '\n' ' '))"
    else
        ks_pass "$1: no $2 signal"
    fi
}

# expect_changed_since DESC SPEC...: a PropertiesChanged with every SPEC
# since mon_mark (changes that follow the network, not a call).
expect_changed_since() {
    local desc=$1; shift
    if wait_until 3 "$KS_PY" "$KS_BUSPY" changed-since "$KS_MON_LOG" "$KS_MON_MARK" "$@"; then
        ks_pass "$desc: PropertiesChanged $*"
    else
        ks_fail "$desc: no PropertiesChanged $* (got: $("$KS_PY" "$KS_BUSPY" signals-since "$KS_MON_LOG" "$KS_MON_MARK" | tr '\n' ' ' | cut -c 1-400))"
    fi
}

# expect_quiet DESC: no PropertiesChanged since mon_mark.  Changes are
# sent right after a reply, so once the reply to a later Get is in the
# log, any change signal would be there too.
expect_quiet() {
    bus_do get Version
    wait_until 5 "$KS_PY" "$KS_BUSPY" reply-seen "$KS_MON_LOG" "$BUS_UNIQUE" "$BUS_COOKIE" ||
        ks_die "the monitor did not see the reply to Get"
    if "$KS_PY" "$KS_BUSPY" changed-since "$KS_MON_LOG" "$KS_MON_MARK"; then
        ks_fail "$1: PropertiesChanged sent ($("$KS_PY" "$KS_BUSPY" signals-since "$KS_MON_LOG" "$KS_MON_MARK" | tr '\n' ' ' | cut -c 1-300))"
    else
        ks_pass "$1: no PropertiesChanged"
    fi
}

# expect_introspection DESC EXPECTED-LINES: the interface as introspected
# (busctl introspect --xml-interface) is exactly these members, plus the
# additions that docs/dbus-api.md documents.
expect_introspection() {
    local desc=$1 out
    printf '%s\n' "$2" >"$KS_TMP/introspect.want"
    bus_do introspect --xml-interface
    if ((BUS_RC != 0)); then
        ks_fail "$desc: busctl introspect failed: $BUS_ERR_MSG"
    elif out=$("$KS_PY" "$KS_BUSPY" introspect-check "$KS_TMP/introspect.want" \
            "$KS_LIB_DIR/../../docs/dbus-api.md" <<<"$BUS_OUT"); then
        ks_pass "$desc: $out"
    else
        ks_fail "$desc:"
        sed 's/^/    /' <<<"$out"
    fi
}

# expect_no_change_signal DESC NAME...: no PropertiesChanged in the whole log names these.
expect_no_change_signal() {
    local desc=$1 out; shift
    if out=$("$KS_PY" "$KS_BUSPY" never "$KS_MON_LOG" "$@"); then
        ks_pass "$desc ($out)"
    else
        ks_fail "$desc: $out"
    fi
}

# --------------------------------------------------------------------------
# Stand-ins on the private bus

# polkit_start allow|deny: a service owning org.freedesktop.PolicyKit1 that
# answers every CheckAuthorization so; the calls are logged in KS_POLKIT_LOG.
polkit_start() {
    KS_POLKIT_LOG=$KS_TMP/polkit.$((++KS_SEQ)).calls
    : >"$KS_POLKIT_LOG"
    ks_spawn KS_POLKIT_PID "$KS_TMP/polkit.$KS_SEQ.log" "$KS_PY" "$KS_BUSPY" polkit \
        --address "$DBUS_SYSTEM_BUS_ADDRESS" --answer "$1" --log "$KS_POLKIT_LOG"
    wait_until 5 bus_has_name org.freedesktop.PolicyKit1 || ks_die "polkit stand-in did not start"
}
polkit_stop() {
    ks_stop_pid "$KS_POLKIT_PID"
    wait_until 5 bus_lacks_name org.freedesktop.PolicyKit1 || ks_die "polkit stand-in kept its name"
}
# polkit_ask: the stand-in's answer to CheckAuthorization, as busctl prints it.
polkit_ask() {
    bus call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority \
        org.freedesktop.PolicyKit1.Authority CheckAuthorization '(sa{sv})sa{ss}us' \
        system-bus-name 1 name s :1.1 org.killswitchd.manage 0 0 ""
}
bus_has_name() {
    [[ $(bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s "$1" 2>/dev/null) == "b true" ]]
}
bus_lacks_name() { ! bus_has_name "$1"; }

# hold_table_start NS: another process creates `table inet killswitchd`
# with the owner flag and keeps its socket open; the kernel refuses that
# table to everyone else until the process exits (then the table goes).
hold_table_start() {
    ks_spawn KS_HOLD_PID "$KS_TMP/hold.$((++KS_SEQ)).log" ip netns exec "$1" "$KS_PY" "$KS_BUSPY" hold-table
    wait_until 5 grep -qx held "$KS_TMP/hold.$KS_SEQ.log" || ks_die "could not create an owned table: $(cat "$KS_TMP/hold.$KS_SEQ.log")"
}
hold_table_stop() { ks_stop_pid "$KS_HOLD_PID"; }

# --------------------------------------------------------------------------
# Python helper: monitor log checks, table flags, the holder, polkit.

ks_write_bus_helper() {
    KS_BUSPY=$KS_TMP/ksbus.py
    cat >"$KS_BUSPY" <<'PYEOF'
# SPDX-License-Identifier: LGPL-2.1-or-later
"""D-Bus side helpers for the killswitchd integration tests."""
import json, os, signal, socket, struct, sys

IFACE = "org.killswitchd.KillSwitch1"


def messages(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass   # a line still being written
    return out


def is_changed(m):
    return m.get("type") == "signal" and m.get("member") == "PropertiesChanged" \
        and m["payload"]["data"][0] == IFACE


def changed_view(m):
    _, changed, invalidated = m["payload"]["data"]
    return {k: v["data"] for k, v in changed.items()}, invalidated


def spec_ok(m, specs):
    changed, invalidated = changed_view(m)
    for s in specs:
        if s.startswith("-"):
            if s[1:] not in invalidated or s[1:] in changed:
                return False
        elif "=" in s:
            k, v = s.split("=", 1)
            if k not in changed or changed[k] != json.loads(v):
                return False
        elif s.startswith("!"):
            if s[1:] in changed or s[1:] in invalidated:
                return False
        elif s not in changed:
            return False
    return True


def short(m):
    if is_changed(m):
        c, i = changed_view(m)
        return "PropertiesChanged%s" % json.dumps([c, i], separators=(",", ":"))
    if m.get("type") == "signal":
        return "%s%s" % (m["member"], json.dumps(m["payload"]["data"], separators=(",", ":")))
    return "%s(reply_cookie=%s)" % (m.get("type"), m.get("reply_cookie"))


def cmd_changed_after(log, unique, cookie, *specs):
    msgs = messages(log)
    cookie = int(cookie)
    reply = next((i for i, m in enumerate(msgs) if m.get("type") in ("method_return", "error")
                  and m.get("destination") == unique and m.get("reply_cookie") == cookie), None)
    if reply is None:
        print("no reply to %s cookie %d in the monitor log" % (unique, cookie))
        return 1
    # The window of this call: since the daemon's previous reply to anyone.
    start = max((i for i in range(reply) if msgs[i].get("type") in ("method_return", "error")
                 and msgs[i].get("destination") not in (None, "org.freedesktop.DBus")), default=-1)
    early = [i for i in range(start + 1, reply) if is_changed(msgs[i]) and spec_ok(msgs[i], specs)]
    if early:
        print("PropertiesChanged sent before the reply: " + short(msgs[early[0]]))
        return 1
    if any(is_changed(m) and spec_ok(m, specs) for m in msgs[reply + 1:]):
        return 0
    seen = [short(m) for m in msgs[reply + 1:] if m.get("type") == "signal"]
    print("no PropertiesChanged with %s after the reply; signals after it: %s" % (" ".join(specs), seen or "none"))
    return 1


def cmd_signal_since(log, since, member, args):
    """A signal MEMBER since line SINCE with these arguments (JSON; null: any)."""
    want = json.loads(args)
    for m in messages_since(log, since):
        if m.get("type") == "signal" and m.get("member") == member and \
                (want is None or m["payload"]["data"] == want):
            return 0
    return 1


def cmd_changed_since(log, since, *specs):
    """A PropertiesChanged since line SINCE with every spec; with no spec: any."""
    return 0 if any(is_changed(m) and spec_ok(m, specs) for m in messages_since(log, since)) else 1


def cmd_reply_seen(log, unique, cookie):
    return 0 if any(m.get("type") in ("method_return", "error") and m.get("destination") == unique
                    and m.get("reply_cookie") == int(cookie) for m in messages(log)) else 1


def cmd_introspect_check(expected_file, docs):
    """The interface in the introspection XML (stdin), one canonical line per member,
    against the expected lines (fnmatch patterns: '*' stands for an argument name the
    contract leaves open).  A member beyond them passes only when the additions section
    of the API document (DOCS) names it.  Prints the differences."""
    import fnmatch
    import xml.etree.ElementTree as ET
    root = ET.fromstring(sys.stdin.read())
    iface = next((i for i in root.iter("interface") if i.get("name") == IFACE), None)
    if iface is None:
        print("interface %s not in the introspection data" % IFACE)
        return 1
    got = []
    for el in iface:
        args = lambda d: ",".join("%s:%s" % (a.get("type"), a.get("name") or "")
                                  for a in el.findall("arg") if a.get("direction", d) == d)
        if el.tag == "method":
            got.append("method %s in=%s out=%s" % (el.get("name"), args("in"), args("out")))
        elif el.tag == "signal":
            got.append("signal %s %s" % (el.get("name"), args("out")))
        elif el.tag == "property":
            emits = "true"
            for an in el.findall("annotation"):
                if an.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal":
                    emits = an.get("value")
            got.append("property %s %s %s emits=%s" % (el.get("name"), el.get("type"), el.get("access"), emits))
    want = [l.strip() for l in open(expected_file) if l.strip()]
    unmatched = list(got)
    missing = []
    for w in want:
        hit = next((g for g in unmatched if fnmatch.fnmatchcase(g, w)), None)
        if hit is None:
            missing.append(w)
        else:
            unmatched.remove(hit)
    text = open(docs).read()
    additions = text[text.find("## Additions"):] if "## Additions" in text else ""
    documented = [g for g in unmatched if "`%s" % g.split()[1] in additions]
    for w in missing:
        print("missing or different: " + w)
    for g in unmatched:
        if g not in documented:
            print("neither in the contract nor a documented addition: " + g)
    if missing or len(documented) != len(unmatched):
        return 1
    print("%d members as in the contract%s" % (len(got) - len(documented), "".join(
        "; documented addition: " + g for g in documented)))
    return 0


def messages_since(log, since):
    with open(log) as f:
        lines = f.readlines()[int(since):]
    return [json.loads(l) for l in lines if l.startswith("{") and l.endswith("}\n")]


def cmd_signals_since(log, since):
    for m in messages_since(log, since):
        if m.get("type") == "signal":
            print(short(m))
    return 0


def cmd_never(log, *names):
    n = 0
    for m in messages(log):
        if is_changed(m):
            n += 1
            c, i = changed_view(m)
            bad = [x for x in names if x in c or x in i]
            if bad:
                print("%s named in %s" % (bad, short(m)))
                return 1
    print("%d PropertiesChanged signals checked" % n)
    return 0


# ---- nftables over netlink (nft 1.0.6 knows neither persist nor owning a table)

NFT_SUBSYS = 10
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE = 1, 4, 0x400
NFPROTO_INET = 1
NFTA_TABLE_NAME, NFTA_TABLE_FLAGS = 1, 2
NFT_TABLE_F_OWNER = 2


def nl_msg(t, flags, seq, body):
    return struct.pack("=IHHII", 16 + len(body), t, flags, seq, 0) + body


def nl_attr(t, d):
    return struct.pack("=HH", 4 + len(d), t) + d + b"\0" * ((4 - len(d) % 4) % 4)


def nfgen(fam, res_id=0):
    return struct.pack("=BBH", fam, 0, socket.htons(res_id))


def nl_replies(s):
    """Yield (type, payload) until the ACK or an error."""
    while True:
        data = s.recv(1 << 16)
        while data:
            ln, t = struct.unpack("=IH", data[:6])
            body = data[16:ln]
            data = data[(ln + 3) & ~3:]
            if t == 2:   # NLMSG_ERROR: 0 is the ACK
                err = struct.unpack("=i", body[:4])[0]
                if err:
                    raise OSError(-err, os.strerror(-err))
                return
            yield t, body


def cmd_table_flags():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    s.bind((0, 0))
    body = nfgen(NFPROTO_INET) + nl_attr(NFTA_TABLE_NAME, b"killswitchd\0")
    s.send(nl_msg(NFT_SUBSYS << 8 | 1, NLM_F_REQUEST | NLM_F_ACK, 1, body))
    for _, payload in nl_replies(s):
        attrs = payload[4:]
        while len(attrs) >= 4:
            ln, t = struct.unpack("=HH", attrs[:4])
            if t & 0x3FFF == NFTA_TABLE_FLAGS:
                print(struct.unpack(">I", attrs[4:8])[0])
            attrs = attrs[(ln + 3) & ~3:]
    return 0


def cmd_hold_table():
    """Create table inet killswitchd owned by this process; keep it until killed."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    s.bind((0, 0))
    body = nfgen(NFPROTO_INET) + nl_attr(NFTA_TABLE_NAME, b"killswitchd\0") + \
        nl_attr(NFTA_TABLE_FLAGS, struct.pack(">I", NFT_TABLE_F_OWNER))
    s.send(nl_msg(0x10, NLM_F_REQUEST, 1, nfgen(0, NFT_SUBSYS)) +
           nl_msg(NFT_SUBSYS << 8 | 0, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 2, body) +
           nl_msg(0x11, NLM_F_REQUEST, 3, nfgen(0, NFT_SUBSYS)))
    for _ in nl_replies(s):
        pass
    print("held", flush=True)
    signal.pause()


# ---- polkit stand-in

POLKIT_XML = """<node><interface name="org.freedesktop.PolicyKit1.Authority">
<method name="CheckAuthorization">
<arg type="(sa{sv})" name="subject" direction="in"/><arg type="s" name="action_id" direction="in"/>
<arg type="a{ss}" name="details" direction="in"/><arg type="u" name="flags" direction="in"/>
<arg type="s" name="cancellation_id" direction="in"/><arg type="(bba{ss})" name="result" direction="out"/>
</method></interface></node>"""


def serve(address, name, path, xml, on_call):
    """Own NAME on the bus at ADDRESS, answer calls to PATH with on_call, forever."""
    from gi.repository import Gio, GLib
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    node = Gio.DBusNodeInfo.new_for_xml(xml)
    conn.register_object(path, node.interfaces[0], on_call, None, None)
    r = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                       "RequestName", GLib.Variant("(su)", (name, 4)),
                       GLib.VariantType("(u)"), 0, -1, None)
    if r.unpack()[0] != 1:
        sys.exit("could not own " + name)
    GLib.MainLoop().run()


def cmd_polkit(argv):
    import argparse
    from gi.repository import GLib
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--answer", choices=["allow", "deny"], required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args(argv)
    allow = a.answer == "allow"

    def on_call(conn, sender, path, iface, method, params, inv):
        subject, action, details, flags, _ = params.unpack()
        with open(a.log, "a") as f:
            print(json.dumps({"sender": sender, "subject": subject, "action": action,
                              "flags": flags}), file=f, flush=True)
        inv.return_value(GLib.Variant("((bba{ss}))", ((allow, False, {}),)))

    serve(a.address, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
          POLKIT_XML, on_call)


# ---- systemd stand-in: StartTransientUnit for scopes, as systemd does it on cgroup v2

SYSTEMD_XML = """<node><interface name="org.freedesktop.systemd1.Manager">
<method name="StartTransientUnit">
<arg type="s" name="name" direction="in"/><arg type="s" name="mode" direction="in"/>
<arg type="a(sv)" name="properties" direction="in"/><arg type="a(sa(sv))" name="aux" direction="in"/>
<arg type="o" name="job" direction="out"/>
</method></interface></node>"""


def slice_path(unit):
    """systemd.slice(5): a-b-c.slice is the cgroup a.slice/a-b.slice/a-b-c.slice."""
    parts = unit[:-len(".slice")].split("-")
    return "/".join("-".join(parts[:i + 1]) + ".slice" for i in range(len(parts)))


def cmd_systemd(argv):
    """The scope's cgroup made under --cgroup-root in the unit's slice, the PIDs moved into it.
    With --freeze-file holding a PID, that process gets SIGSTOP first: the daemon made slow."""
    import argparse
    from gi.repository import GLib
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--cgroup-root", required=True)
    p.add_argument("--freeze-file", required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args(argv)
    jobs = [0]

    def on_call(conn, sender, path, iface, method, params, inv):
        name, mode, props, aux = params.unpack()
        props = dict(props)
        with open(a.log, "a") as f:
            print(json.dumps({"name": name, "mode": mode, "properties": props}), file=f, flush=True)
        try:
            with open(a.freeze_file) as f:
                os.kill(int(f.read()), signal.SIGSTOP)
        except FileNotFoundError:
            pass
        cg = os.path.join(a.cgroup_root, slice_path(props["Slice"]), name)
        os.makedirs(cg, exist_ok=True)
        for pid in props["PIDs"]:
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        jobs[0] += 1
        inv.return_value(GLib.Variant("(o)", ("/org/freedesktop/systemd1/job/%d" % jobs[0],)))

    serve(a.address, "org.freedesktop.systemd1", "/org/freedesktop/systemd1", SYSTEMD_XML, on_call)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd in ("polkit", "systemd"):
        return {"polkit": cmd_polkit, "systemd": cmd_systemd}[cmd](args)
    return {"changed-after": cmd_changed_after, "signal-since": cmd_signal_since,
            "changed-since": cmd_changed_since, "reply-seen": cmd_reply_seen,
            "introspect-check": cmd_introspect_check,
            "signals-since": cmd_signals_since, "never": cmd_never,
            "table-flags": cmd_table_flags, "hold-table": cmd_hold_table}[cmd](*args)


sys.exit(main())
PYEOF
}
