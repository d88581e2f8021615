#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Soak: the fault and hostile-input tests at sizes too big for the CI suite
# (ctest runs them at CI size).  Needs root, like the integration tests.
#
#   sudo tests/soak/soak.sh           the memory soak: the daemon under
#                                     valgrind through 10,000 Applies, 1,000
#                                     tunnel flaps, 20,000 fuzzer calls and
#                                     500 rounds of single changes; file
#                                     descriptors and VmRSS before/after
#   sudo tests/soak/soak.sh --all     and besides: 5,000 flaps, 1,000 daemon
#                                     crashes, 200 kills during Apply of
#                                     65,536 endpoints, 400 interrupted
#                                     state-file writes, 1,000,000 fuzzer calls
#
# KILLSWITCHD as for the integration tests (default: build/src/killswitchd).
# Each test's log is kept in $SOAK_DIR (default: a new directory in /tmp);
# the FIGURES lines of all of them are printed at the end.  Exit status 0
# only if every test passed.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
it=$root/tests/integration
export KILLSWITCHD=${KILLSWITCHD:-$root/build/src/killswitchd}
SOAK_DIR=${SOAK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/killswitchd-soak.XXXXXX")}
mkdir -p "$SOAK_DIR"
all=0
[[ ${1:-} == --all ]] && all=1

runs=()
# run NAME ENV... -- SCRIPT: one test at soak size, no time limit.
run() {
    local name=$1 envs=() t0 rc
    shift
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    echo "== $name ($(printf '%s ' "${envs[@]}"))"
    t0=$(date +%s)
    env "${envs[@]}" bash "$it/$1" >"$SOAK_DIR/$name.log" 2>&1
    rc=$?
    echo "   $([[ $rc == 0 ]] && echo PASS || echo "FAIL (exit $rc)") in $(($(date +%s) - t0)) s; log: $SOAK_DIR/$name.log"
    grep '^FAIL' "$SOAK_DIR/$name.log" | head -n 10 | sed 's/^/   /'
    runs+=("$name:$rc")
}

run valgrind KS_VG_APPLIES=10000 KS_VG_FLAPS=1000 KS_VG_FUZZ=20000 KS_VG_ROUNDS=500 -- test_faults_valgrind.sh
if ((all)); then
    run flaps KS_FLAPS=5000 -- test_faults_flaps.sh
    run daemon-kill KS_KILLS=1000 -- test_faults_daemon_kill.sh
    run apply-kill KS_APPLY_KILLS=200 KS_APPLY_EPS=65535 -- test_faults_apply_kill.sh
    run state-write KS_WRITE_KILLS=400 -- test_faults_state_write.sh
    run fuzz KS_FUZZ_CALLS=1000000 -- test_hostile_fuzz.sh
fi

echo
echo "== figures"
grep -h '# FIGURES' "$SOAK_DIR"/*.log | sed 's/^# FIGURES /  /'
failed=0
for r in "${runs[@]}"; do [[ ${r#*:} == 0 ]] || failed=$((failed + 1)); done
echo
echo "$((${#runs[@]} - failed)) of ${#runs[@]} soak tests passed; logs in $SOAK_DIR"
((failed == 0))
