#!/bin/sh
# Run every benchmark program under build/bench/ and print its report.
# Benchmarks compare against the peer tool in the same run (docs/bench.md).
set -u
B=${B:-build}
n=0
for b in "$B"/bench/bench-*; do
    [ -x "$b" ] || continue
    n=$((n + 1))
    "$b" || exit 1
done
if [ "$n" -eq 0 ]; then
    echo "bench: no benchmark programs are built yet"
fi
