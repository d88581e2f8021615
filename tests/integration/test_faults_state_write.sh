#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# State-file writes interrupted by kill -9, 40 times (KS_WRITE_KILLS), with
# a flood running through the tunnel.  A save appends a change to
# settings.conf (a few lines, then a commit line and fdatasync), or writes
# the file whole (a temporary file, fsync, rename, fsync of the directory)
# when the change would be larger than the file.  An inotify watch on the
# state directory kills the daemon a random 0-1000 us after the save
# reaches one of these points, in turn (docs/state-file.md):
#
#   create  written whole: the temporary file exists, empty
#   write   the change appended without its commit line, or the temporary
#           file's text written (the kernel not yet told)
#   commit  the commit line appended (not yet flushed), or the temporary
#           file renamed over settings.conf (the directory not yet synced)
#   close   the save is complete (the reply may not be sent)
#
# The changes cycle between three settings of 5,000 endpoints each: X, Y
# (Apply, the whole table: every endpoint changes, so the file is written
# whole) and X plus one endpoint (AddEndpoint and RemoveEndpoint, one set
# element, one appended change).  After each kill:
#
#   - settings.conf holds exactly the old or the new settings (as read by a
#     reader of the documented format of its own, tests/integration/lib.sh
#     state_lines), never corrupt, never a mix; the table is exactly the old
#     or the new one; never a new file with the old table;
#   - a restarted daemon enforces exactly the saved settings (table digest,
#     GetSettings);
#   - once the restarted daemon has saved, no temporary file of an
#     interrupted save is left in the state directory.
#
# No packet may leak.
#
# Control: the same flood without our table (Disable) leaks.

# Functions called indirectly (through as_nobody, expect_ok, loops of names);
# arrays read through namerefs.
# shellcheck disable=SC2317,SC2012,SC2034
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_state_write
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
rounds=${KS_WRITE_KILLS:-40}
n_eps=5000

endpoints_of() {   # PORT: busctl arguments for a(sqs)
    "$KS_PY" -c 'import sys
n, port, srv, wg = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sys.stdout.write("%d\0%s\0%s\0udp\0" % (n + 1, srv, wg))
for i in range(n):
    a = 0x0A500000 + i
    sys.stdout.write("%d.%d.%d.%d\0%s\0udp\0" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, port))' \
        "$n_eps" "$1" "$KS_SRV_V4" "$KS_WG_PORT"
}
mapfile -d '' eps_x < <(endpoints_of 7)
mapfile -d '' eps_y < <(endpoints_of 8)
EXTRA=(198.51.100.77 4500 udp)

# to STATE: the call that moves the settings from the current state to STATE.
to() {
    case $1 in
        X) if [[ $cur == XE ]]; then bus_do call RemoveEndpoint sqs "${EXTRA[@]}"
           else bus_do call Apply 'a{sv}' 3 Enabled b true Tunnels as 1 "$KS_WG_CLI" Endpoints 'a(sqs)' "${eps_x[@]}"; fi ;;
        Y) bus_do call Apply 'a{sv}' 3 Enabled b true Tunnels as 2 "$KS_WG_CLI" 'ky*' Endpoints 'a(sqs)' "${eps_y[@]}" ;;
        XE) bus_do call AddEndpoint sqs "${EXTRA[@]}" ;;
    esac
}
# the state after CUR, cycling X -> XE -> X -> XE -> X -> Y -> X ...: from
# X, the attempts take turns whether the previous one was cut or not.
from_x=0
next_of() {
    case $1 in
        X) if ((from_x++ % 3 < 2)); then NEXT=XE; else NEXT=Y; fi ;;
        *) NEXT=X ;;
    esac
}
settings_hash() { settings_now | sha256sum | cut -c 1-16; }

start_daemon "$KS_CLI" "$state"
declare -A DIGEST FILE SETTINGS
cur=none
for s in X XE X Y; do
    to "$s"
    ((BUS_RC == 0)) || ks_die "setting up $s: $BUS_ERR_NAME $BUS_ERR_MSG"
    cur=$s
    DIGEST[$s]=$(table_digest "$KS_CLI") FILE[$s]=$(settings_digest "$state") SETTINGS[$s]=$(settings_hash)
done
ks_log "# X: ${DIGEST[X]}/${FILE[X]}  XE: ${DIGEST[XE]}/${FILE[XE]}  Y: ${DIGEST[Y]}/${FILE[Y]} (table/file)"
ks_log "# settings.conf of X: $(wc -c <"$state/settings.conf") bytes"
which_of() {   # HASH MAP
    local -n map=$2
    local k
    for k in X XE Y; do [[ $1 == "${map[$k]}" ]] && { echo "$k"; return; }; done
    echo "other:$1"
}

flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
counters_reset
# Endpoint changes append; Apply between X and Y writes whole (after a kill
# that left an unfinished change, the next save writes whole too: the
# phases of appending are those of writing whole but "create").  Each
# transition takes the phases in turn, so that each meets every one.
append_phases=(write commit close)
whole_phases=(create write commit close)
declare -A OUTCOME=() TURN=()
bad=0 lost=0 stale=0 nofire=0
for ((i = 1; i <= rounds; i++)); do
    next_of "$cur"
    new=$NEXT
    turn=${TURN[$cur$new]:-0}
    TURN[$cur$new]=$((turn + 1))
    if [[ $cur == XE || $new == XE ]]; then
        kind=append phase=${append_phases[turn % 3]}
    else
        kind=whole phase=${whole_phases[turn % 4]}
    fi
    delay=$((RANDOM % 1000))
    kill_at_save "$state" "$KS_DAEMON_PID" "$phase" "$delay"
    to "$new"
    acked=$((BUS_RC == 0 ? 1 : 0))
    fired=$(killer_result)
    if [[ $fired != fired* ]]; then
        nofire=$((nofire + 1))
        ks_fail "round $i: the save never reached $phase ($fired)"
        kill_daemon "$KS_DAEMON_PID"
    fi
    wait_until 5 ks_pid_gone "$KS_DAEMON_PID" || true
    t=$(which_of "$(table_digest "$KS_CLI")" DIGEST)
    f=$(which_of "$(settings_digest "$state")" FILE)
    leftovers=$(tmp_files "$state" | wc -l)
    case "$t/$f" in
        "$cur/$cur") what="old/old" ;;
        "$new/$cur") what="new table/old file" ;;
        "$new/$new") what="new/new" ;;
        *) what="INCONSISTENT" ;;
    esac
    OUTCOME["$kind, $phase: $what"]=$((${OUTCOME["$kind, $phase: $what"]:-0} + 1))
    ks_log "# round $i: $cur -> $new ($kind), kill ${delay} us after '$phase': table $t, file $f ($what); acknowledged=$acked; temporary files: $leftovers"
    if [[ $what == INCONSISTENT ]]; then
        bad=$((bad + 1))
        ks_fail "round $i: table $t, file $f: not a whole old or new state"
    fi
    if ((acked)) && [[ $what != new/new ]]; then
        lost=$((lost + 1))
        ks_fail "round $i: acknowledged, yet table $t, file $f"
    fi
    start_daemon "$KS_CLI" "$state"
    on_disk=$f
    [[ $on_disk == X || $on_disk == XE || $on_disk == Y ]] || on_disk=$cur
    got_t=$(which_of "$(table_digest "$KS_CLI")" DIGEST)
    got_s=$(which_of "$(settings_hash)" SETTINGS)
    if [[ $got_t != "$on_disk" || $got_s != "$on_disk" ]]; then
        bad=$((bad + 1))
        ks_fail "round $i: restarted daemon enforces table $got_t, reports settings $got_s; saved: $on_disk"
    fi
    cur=$on_disk
done

ks_step "after the restarted daemon saved once more"
next_of "$cur"
nxt=$NEXT
to "$nxt"
expect_eq "a change after all the kills" "$BUS_RC" 0
cur=$nxt
stale=$(tmp_files "$state" | wc -l)
expect_eq "temporary files of interrupted saves left in the state directory ($(tmp_files "$state" | head -n 3 | paste -sd ' ' -))" "$stale" 0

ks_step "totals"
flood_stop
expect_no_leaks "$rounds kills during state-file writes"
leaks=$(count_leaks)
expect_zero "rounds where the save was never reached" "$nofire"
expect_zero "rounds with a mixed, empty or missing table or file, or a restart enforcing other settings" "$bad"
expect_zero "acknowledged changes not in force after the kill (settings lost)" "$lost"
for k in "${!OUTCOME[@]}"; do ks_log "# outcome $k: ${OUTCOME[$k]}"; done
ks_log "# FIGURES state-write: kills=$rounds leaks=$leaks inconsistent=$bad settings_lost=$lost stale_tmp_files=$stale"
ks_step "control: without the table the canaries leak"
control_without_table
ks_finish
