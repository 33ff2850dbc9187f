#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Run each cmocka runner given as an argument, show its output, and end
# with one line for all of them: "unit: N passed, N failed".
# Exits non-zero when any test failed or any runner crashed.
set -u
passed=0
failed=0
bad_runners=""
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] || [ -z "$p" ]; then
        [ -n "$f" ] || failed=$((failed + 1))   # crashed: count it
        bad_runners="$bad_runners $(basename "$t")"
    fi
done
[ -z "$bad_runners" ] || echo "failing runners:$bad_runners"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$bad_runners" ]
