#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-man.sh PAGE...: each page must render with man(1) at 80 columns with no warning from
# groff or man (bad requests, unknown macros, lines that cannot be broken, ...), and must
# produce text. Without man(1) the check is skipped (77), except under CI, where that fails.
set -u

if ! command -v man >/dev/null 2>&1; then
        if [ -n "${CI:-}" ]; then
                echo "FAIL: man(1) is not installed (package man-db)" >&2
                exit 1
        fi
        echo "SKIP: man(1) is not installed (package man-db)"
        exit 77
fi

err=$(mktemp) || exit 1
out=$(mktemp) || exit 1
trap 'rm -f "$err" "$out"' EXIT
failed=0
passed=0
for page in "$@"; do
        MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" >"$out" 2>"$err"
        rc=$?
        if [ "$rc" -ne 0 ] || [ -s "$err" ] || [ ! -s "$out" ]; then
                echo "FAIL: $page (man exit status $rc)"
                sed 's/^/  /' "$err"
                failed=$((failed + 1))
        else
                echo "PASS: $page renders without warnings ($(wc -l <"$out") lines)"
                passed=$((passed + 1))
        fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
