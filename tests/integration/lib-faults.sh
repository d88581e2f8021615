# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the fault, coexistence and hostile-input tests (test_faults_*,
# test_coexist*, test_hostile_*) and tests/soak: on top of lib-bus.sh (which
# sources lib.sh).
#
#   - table_digest: the kernel's table read back over netlink (chains,
#     rules, sets and every element), reduced to one hash without handles,
#     counter values or the owner flag: two tables with the same digest
#     enforce the same thing.  nft(8) takes seconds to list 20,000 elements;
#     this takes a fraction of that.
#   - state_digest, settings_digest, tmp_files: the state file's bytes as a
#     hash (or "none"), the settings it holds as a hash (state_lines), and
#     the temporary files of interrupted saves.
#   - restart_daemon: kill -9 and start again after systemd's RestartSec.
#   - bus_restart: the private bus daemon stopped and started again on the
#     same socket.
#   - start_policy_bus: a bus with a system bus's policy and the project's
#     installed policy file.
#   - start_daemon_tmpfs: the daemon in a private mount namespace whose state
#     directory is a small tmpfs (the host never sees the mount; it goes
#     with the daemon).
#   - kill_at_save: kill -9 the daemon at a chosen point of a save (inotify
#     on the state directory), whether it appends a change or writes whole.
#   - ks_bus_fuzz_binary: the D-Bus fuzzer of tests/fuzz/bus, built if need be.
#   - the Python helper's raw-udp: Ethernet frames written with AF_PACKET.
#
# SAFETY: as lib.sh: namespaces only, processes stopped by their PIDs, mounts
# only inside private mount namespaces that end with the process in them.

# Variables set here are read by the sourcing tests.
# shellcheck disable=SC2034

KS_FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

source "$KS_FAULTS_DIR/lib-bus.sh"

KS_E_STATE=org.killswitchd.Error.State
KS_E_PROP_RO=org.freedesktop.DBus.Error.PropertyReadOnly
# systemd's RestartSec= of killswitchd.service.
KS_RESTART_SEC=0.1

# faults_init NAME: ks_bus_init and this file's Python helper.
faults_init() {
    ks_bus_init "$1"
    ks_write_faults_helper
}

# --------------------------------------------------------------------------
# The kernel's table and the state file

# table_digest NS: "absent", or the digest of what the table enforces.
table_digest() { in_ns "$1" "$KS_PY" "$KS_FAULTSPY" digest; }
# table_summary NS: the digest with counts (chains, rules, elements per set, flags).
table_summary() { in_ns "$1" "$KS_PY" "$KS_FAULTSPY" digest --verbose; }

# state_digest DIR: "none" or a hash of settings.conf.
state_digest() {
    if [[ -e $1/settings.conf ]]; then sha256sum <"$1/settings.conf" | cut -c 1-16; else echo none; fi
}
# settings_digest DIR: "none", "corrupt", or a hash of the settings
# DIR/settings.conf holds (the same settings written whole or as changes
# have the same hash).
settings_digest() {
    local lines
    lines=$(state_lines "$1" 2>/dev/null) || { echo corrupt; return 0; }
    if [[ $lines == none ]]; then echo none; else sha256sum <<<"$lines" | cut -c 1-16; fi
}
# tmp_files DIR: temporary files of interrupted saves left in DIR.
tmp_files() { find "$1" -maxdepth 1 -name '.settings.conf.*' -printf '%f\n' 2>/dev/null | sort; }

# settings_now: GetSettings as canonical JSON; "unreachable" when the call fails.
settings_now() { settings_json 2>/dev/null || echo unreachable; }

# control_without_table: the paired control of a "0 leaked": Disable, and
# the same flood (with its canaries) leaks within half a second.
control_without_table() {
    bus_do call Disable
    if ((BUS_RC != 0)); then
        ks_fail "control: Disable failed: $BUS_ERR_NAME $BUS_ERR_MSG"
        return 0
    fi
    flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
    counters_reset
    sleep 0.5
    flood_stop
    expect_ge "control: the same flood without the table: packets leaked" "$(count_leaks)" 10
}

# use_up_file_room: on a full state directory, changes appended to
# settings.conf still fit in the room its last block has (they are saved:
# the disk is full, not the file).  Use that room up until a change is
# refused: Persistent switched back and forth (no kernel commit, 16 or 17
# bytes and a commit line of 19 or more), then the smallest change there
# is, a one-letter tunnel added and removed (10 bytes): from then on every
# other change needs a block of its own.  The count in KS_FITTED.
use_up_file_room() {
    local k persistent
    KS_FITTED=0
    persistent=$(prop Persistent)
    for ((k = 0; k < 1000; k++)); do
        persistent=$([[ $persistent == true ]] && echo false || echo true)
        bus_do set Persistent b "$persistent"
        [[ $BUS_ERR_NAME == "$KS_E_STATE" ]] && break
        ((BUS_RC == 0)) || ks_die "using up the room in settings.conf: $BUS_ERR_NAME $BUS_ERR_MSG"
        KS_FITTED=$((KS_FITTED + 1))
    done
    for ((k = 0; k < 1000; k++)); do
        if ((k % 2 == 0)); then bus_do call AddTunnel s q; else bus_do call RemoveTunnel s q; fi
        [[ $BUS_ERR_NAME == "$KS_E_STATE" ]] && return 0
        ((BUS_RC == 0)) || ks_die "using up the room in settings.conf: $BUS_ERR_NAME $BUS_ERR_MSG"
        KS_FITTED=$((KS_FITTED + 1))
    done
    ks_die "the state directory is not full: $KS_FITTED changes saved"
}

# settings_in_force: GetSettings in the form of state_lines (lib.sh), to
# compare what is saved with what is in force.
settings_in_force() {
    settings_json | "$KS_PY" -c 'import json, sys
d = json.load(sys.stdin)
b = lambda v: "true" if v else "false"
for k in ("Enabled", "Persistent", "AllowLan", "AllowDhcp"):
    print("%s=%s" % (k, b(d[k])))
print("EndpointMark=%d" % d["EndpointMark"])
print("EndpointAnyUser=%s" % b(d["EndpointAnyUser"]))
for t in d["Tunnels"]:
    print("Tunnel=" + t)
for e in sorted("%s %d %s" % tuple(e) for e in d["Endpoints"]):
    print("Endpoint=" + e)'
}

# --------------------------------------------------------------------------
# The daemon

# restart_daemon NS DIR: the daemon crashes (kill -9) and comes back as
# systemd's Restart=on-failure would bring it back (RestartSec=100ms).
restart_daemon() {
    kill_daemon "$KS_DAEMON_PID"
    sleep "$KS_RESTART_SEC"
    start_daemon "$1" "$2"
}

# daemon_alive PID: the process is ours and running.
daemon_alive() { ks_is_ours "$1"; }

# bus_owner_pid: the PID owning the daemon's bus name (empty if none).
bus_owner_pid() {
    bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixProcessID s "$KS_BUS_NAME" 2>/dev/null | awk '{print $2}'
}
bus_owned_by() { [[ $(bus_owner_pid) == "$1" ]]; }

# bus_restart [KILL|TERM]: stop the private bus daemon and start a new one
# on the same socket; the daemon must find it again by itself.
bus_restart() {
    local sig=${1:-TERM} sock=$KS_TMP/system_bus_socket
    ks_stop_pid "$KS_BUS_PID" "$sig"
    rm -f "$sock"
    KS_BUS_PID=
    start_bus
    KS_PID_START[$KS_BUS_PID]=$(ks_pid_start "$KS_BUS_PID")
}

# start_policy_bus: instead of lib.sh's permissive private bus, one with a
# system bus's policy (that of Debian's /usr/share/dbus-1/system.conf:
# nobody may own a name or send a method call unless a service's file
# allows it) and the project's installed policy file included as is.  The
# polkit stand-in of lib-bus.sh runs as root here, so root (standing in for
# polkitd) may own org.freedesktop.PolicyKit1, as polkit's own file lets
# polkitd.
start_policy_bus() {
    local sock=$KS_TMP/system_bus_socket conf=$KS_TMP/policy-bus.conf
    local policy=$KS_SRC_DIR/systemd/org.killswitchd.KillSwitch1.conf
    [[ -r $policy ]] || ks_die "no bus policy file at $policy"
    [[ -z $KS_BUS_PID ]] || ks_die "a bus is already running"
    cat >"$conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$sock</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
  <include>$policy</include>
</busconfig>
CONF
    ks_spawn KS_BUS_PID "$KS_TMP/bus.log" dbus-daemon --nofork --config-file="$conf" --print-address=1
    wait_until 5 test -S "$sock" || ks_die "dbus-daemon (system policy) did not start: $(cat "$KS_TMP/bus.log")"
    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$sock
}

# start_daemon_tmpfs NS DIR SIZE [VAR]: start_daemon, but in a mount
# namespace of its own where DIR is a tmpfs of SIZE (mode 0700).  The mount
# exists only in that namespace and ends with the daemon.  The test reaches
# the tmpfs through /proc/PID/root and nsenter (tmpfs_exec).
start_daemon_tmpfs() {
    local ns=$1 dir=$2 size=$3 var=${4:-KS_DAEMON_PID}
    local wrapper=$KS_TMP/killswitchd-tmpfs.$((++KS_SEQ))
    mkdir -p "$dir"
    cat >"$wrapper" <<EOF
#!/bin/sh
# Private mounts: nothing propagates back to the host.
exec unshare --mount --propagation private /bin/sh -c '
    mount -t tmpfs -o size=$size,mode=0700 killswitchd-test "\$0" || exit 1
    exec "\$@"' $(printf '%q' "$dir") $(printf '%q' "$KILLSWITCHD") "\$@"
EOF
    chmod +x "$wrapper"
    KILLSWITCHD=$wrapper start_daemon "$ns" "$dir" "$var"
}
# tmpfs_exec PID CMD...: run CMD in the daemon's mount namespace.
tmpfs_exec() { local pid=$1; shift; nsenter --mount="/proc/$pid/ns/mnt" "$@"; }

# kill_at_save DIR PID PHASE DELAY_US: from now on, watch DIR and kill -9
# PID DELAY_US microseconds after the next save reaches PHASE.  A save
# appends a change to settings.conf, or writes the file whole (a temporary
# file renamed over it):
#   create  written whole: the temporary file created (appending: never)
#   write   the change appended without its commit line, or the temporary
#           file's text written (before the kernel commit)
#   commit  the commit line appended (before fdatasync), or the temporary
#           file renamed over settings.conf (before the directory fsync)
#   close   settings.conf closed, the save complete
# Returns once watching; the event that fired ends up in KS_KILLER_LOG
# ("fired PHASE" or "timeout").
kill_at_save() {
    KS_KILLER_LOG=$KS_TMP/killer.$((++KS_SEQ)).log
    ks_spawn KS_KILLER_PID "$KS_KILLER_LOG" "$KS_PY" "$KS_FAULTSPY" kill-at-save \
        --dir "$1" --pid "$2" --phase "$3" --delay-us "$4" --timeout 10
    wait_until 5 grep -qx watching "$KS_KILLER_LOG" || ks_die "the inotify killer did not start"
}
killer_result() {   # waits for the killer to end; prints what it did
    wait_until 12 ks_pid_gone "$KS_KILLER_PID" || true
    grep -E '^(fired|timeout)' "$KS_KILLER_LOG" | tail -n 1
}

# --------------------------------------------------------------------------
# The D-Bus fuzzer (tests/fuzz/bus/ks-bus-fuzz.c)

# ks_bus_fuzz_binary: sets KS_BUS_FUZZ to the built fuzzer (next to the
# daemon's build, or $KS_BUS_FUZZ), else compiles it into the temp dir.
ks_bus_fuzz_binary() {
    local src=$KS_SRC_DIR/tests/fuzz/bus/ks-bus-fuzz.c cand
    if [[ -n ${KS_BUS_FUZZ:-} && -x $KS_BUS_FUZZ ]]; then return 0; fi
    for cand in "$(dirname "$KILLSWITCHD")/../tests/fuzz/bus/ks-bus-fuzz" \
                "$KS_SRC_DIR/build/tests/fuzz/bus/ks-bus-fuzz"; do
        if [[ -x $cand && $cand -nt $src ]]; then KS_BUS_FUZZ=$cand; return 0; fi
    done
    command -v cc >/dev/null || ks_die "no built ks-bus-fuzz and no C compiler"
    KS_BUS_FUZZ=$KS_TMP/ks-bus-fuzz
    # shellcheck disable=SC2046
    cc -std=gnu11 -O2 -Wall -o "$KS_BUS_FUZZ" "$src" $(pkg-config --cflags --libs libsystemd) ||
        ks_die "cannot build $src"
}

# --------------------------------------------------------------------------
# Python helper: the table digest, the inotify killer, raw frames.

ks_write_faults_helper() {
    KS_FAULTSPY=$KS_TMP/ksfaults.py
    cat >"$KS_FAULTSPY" <<'PYEOF'
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fault-test helpers for killswitchd: table digest over netlink, inotify killer, raw frames."""
import argparse, ctypes, ctypes.util, hashlib, os, re, select, signal, socket, struct, sys, time

TABLE = b"killswitchd\0"
NFPROTO_INET = 1
NFT = 10 << 8
GETTABLE, GETCHAIN, GETRULE, GETSET, GETSETELEM, GETOBJ = 1, 4, 7, 10, 13, 19
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3


def attr(t, d):
    return struct.pack("=HH", 4 + len(d), t) + d + b"\0" * ((4 - len(d) % 4) % 4)


def attrs(buf):
    """[(type, payload)] of a netlink attribute stream, in order."""
    out = []
    while len(buf) >= 4:
        ln, t = struct.unpack("=HH", buf[:4])
        if ln < 4:
            break
        out.append((t & 0x3FFF, buf[4:ln]))
        buf = buf[(ln + 3) & ~3:]
    return out


class Nl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.s.bind((0, 0))
        self.seq = 0

    def request(self, mtype, flags, body):
        """The answer's messages as lists of attributes; None if ENOENT."""
        self.seq += 1
        payload = struct.pack("=BBH", NFPROTO_INET, 0, 0) + body
        self.s.send(struct.pack("=IHHII", 16 + len(payload), NFT | mtype, flags, self.seq, 0) + payload)
        out = []
        while True:
            data = self.s.recv(1 << 20)
            while data:
                ln, t = struct.unpack("=IH", data[:6])
                body_ = data[16:ln]
                data = data[(ln + 3) & ~3:]
                if t == NLMSG_DONE:
                    return out
                if t == NLMSG_ERROR:
                    err = struct.unpack("=i", body_[:4])[0]
                    if err == -2:
                        return None
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return out
                out.append(attrs(body_[4:]))
                if not flags & 0x100:   # a single GET: its answer, then an ACK
                    if not flags & NLM_F_ACK:
                        return out


def drop(msg, *types):
    return [(t, v) for t, v in msg if t not in types]


def get(msg, t):
    return next((v for k, v in msg if k == t), None)


def rule_canon(msg):
    """Chain name and expressions, inline counters without their values."""
    exprs = []
    for _, e in attrs(get(msg, 4) or b""):
        ea = attrs(e)
        name = get(ea, 1)
        exprs.append((name, b"" if name == b"counter\0" else get(ea, 2)))
    return (get(msg, 2), exprs, get(msg, 7))


def cmd_digest(a):
    nl = Nl()
    t = nl.request(GETTABLE, NLM_F_REQUEST | NLM_F_ACK, attr(1, TABLE))
    if not t:
        print("absent")
        return 0
    flags = struct.unpack(">I", get(t[0], 2))[0] if get(t[0], 2) else 0
    ours = lambda m, k: get(m, k) == TABLE
    chains = sorted(repr(drop(m, 2, 6, 8, 9, 11)) for m in
                    nl.request(GETCHAIN, NLM_F_REQUEST | NLM_F_DUMP, attr(1, TABLE)) if ours(m, 1))
    rules = [repr(rule_canon(m)) for m in
             nl.request(GETRULE, NLM_F_REQUEST | NLM_F_DUMP, attr(1, TABLE)) if ours(m, 1)]
    rules_sorted = sorted(rules, key=lambda r: r.split(",", 1)[0])   # chains apart, order kept
    sets = [m for m in nl.request(GETSET, NLM_F_REQUEST | NLM_F_DUMP, attr(1, TABLE)) if ours(m, 1)]
    set_canon, counts = [], []
    for m in sorted(sets, key=lambda m: get(m, 2)):
        name = get(m, 2)
        elems = []
        for em in nl.request(GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, attr(1, TABLE) + attr(2, name)) or []:
            for _, e in attrs(get(em, 3) or b""):
                elems.append(e)
        elems.sort()
        set_canon.append((repr(drop(m, 10, 16)), hashlib.sha256(b"".join(elems)).hexdigest()))
        counts.append("%s:%d" % (name.rstrip(b"\0").decode(), len(elems)))
    objs = sorted(repr((get(m, 2), get(m, 3))) for m in
                  nl.request(GETOBJ, NLM_F_REQUEST | NLM_F_DUMP, attr(1, TABLE)) or [] if ours(m, 1))
    h = hashlib.sha256(repr((chains, rules_sorted, set_canon, objs)).encode()).hexdigest()[:16]
    if a.verbose:
        print("%s chains=%d rules=%d objects=%d sets=%s flags=%d" % (
            h, len(chains), len(rules), len(objs), ",".join(counts), flags))
    else:
        print(h)
    return 0


# ---- inotify

IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100


def cmd_kill_at_save(a):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    final_path = os.path.join(a.dir, "settings.conf")

    def size_now():
        try:
            return os.stat(final_path).st_size
        except FileNotFoundError:
            return -1

    def commit_appended():
        """settings.conf grew and ends with a commit line: the change's, appended."""
        try:
            with open(final_path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 40))
                tail = f.read()
        except FileNotFoundError:
            return False
        return size > size0 and re.search(rb"\ncommit [0-9]+ [0-9a-f]{8}\n\Z", tail) is not None

    size0 = size_now()
    if libc.inotify_add_watch(fd, a.dir.encode(), IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
        sys.exit("inotify_add_watch: %s" % os.strerror(ctypes.get_errno()))
    print("watching", flush=True)
    end = time.monotonic() + a.timeout
    while time.monotonic() < end:
        if not select.select([fd], [], [], max(0.0, end - time.monotonic()))[0]:
            break
        buf = os.read(fd, 65536)
        while buf:
            wd, mask, cookie, ln = struct.unpack("=iIII", buf[:16])
            name = buf[16:16 + ln].rstrip(b"\0").decode()
            buf = buf[16 + ln:]
            tmp = name.startswith(".settings.conf.") and name.endswith(".tmp")
            final = name == "settings.conf"
            if a.phase == "create":
                hit = mask & IN_CREATE and tmp
            elif a.phase == "write":
                hit = mask & IN_MODIFY and (tmp or final)
            elif a.phase == "commit":
                hit = final and (mask & IN_MOVED_TO or mask & IN_MODIFY and commit_appended())
            else:   # close: the file is closed after the rename, so under its final name
                hit = mask & IN_CLOSE_WRITE and final
            if hit:
                until = time.perf_counter() + a.delay_us / 1e6
                while time.perf_counter() < until:
                    pass
                os.kill(a.pid, signal.SIGKILL)
                print("fired %s %s" % (a.phase, name), flush=True)
                return 0
    print("timeout", flush=True)
    return 0


def ip_checksum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return ~t & 0xFFFF


def cmd_raw_udp(a):
    """IPv4/UDP frames written to a link with an AF_PACKET socket: below IP, so below the
    hooks of an inet table."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.ifname, 0))
    src_mac = s.getsockname()[4]
    dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))
    payload = b"killswitchd-raw"
    udp = struct.pack("!HHHH", a.sport, a.port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(a.src), socket.inet_aton(a.dst))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    frame = dst_mac + src_mac + b"\x08\x00" + ip + udp
    sent = 0
    for _ in range(a.count):
        try:
            s.send(frame)
            sent += 1
        except OSError as e:
            print("error=%s" % e.strerror)
    print("sent=%d" % sent)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("digest")
    d.add_argument("--verbose", action="store_true")
    k = sub.add_parser("kill-at-save")
    k.add_argument("--dir", required=True)
    k.add_argument("--pid", type=int, required=True)
    k.add_argument("--phase", choices=["create", "write", "commit", "close"], required=True)
    k.add_argument("--delay-us", type=int, default=0)
    k.add_argument("--timeout", type=float, default=10)
    r = sub.add_parser("raw-udp")
    r.add_argument("--ifname", required=True)
    r.add_argument("--dst-mac", required=True)
    r.add_argument("--src", required=True)
    r.add_argument("--dst", required=True)
    r.add_argument("--port", type=int, default=9)
    r.add_argument("--sport", type=int, default=47000)
    r.add_argument("--count", type=int, default=10)
    a = p.parse_args()
    return {"digest": cmd_digest, "kill-at-save": cmd_kill_at_save, "raw-udp": cmd_raw_udp}[a.cmd](a)


sys.exit(main())
PYEOF
}
