#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# make bench's cost benchmark (tests/bench/bench-cost.py) runs and its
# figures hold together, on a small generated stream, once per method:
#   every method's row and the verdict lines are printed;
#   the JSON has, for every run, CPU > 0 on each side, wire bytes that
#   match the codec (cat: the stream exactly; zstd: fewer), a peak RSS,
#   and for our receiver the CPU of its two stages, within its own;
#   a side that fails is reported, not measured.
# The figures themselves are make bench's (docs/bench.md, "bench-cost").
# Ends with "integration-bench-cost: N passed, N failed".
#
# Environment: XLMIG_BIN (default build/san/xlmig), XLMIG_BUILDDIR.
set -u

. "$(dirname "$0")/paths.sh"
GEN=$bld/tests/tools/gen-stream
COST=$src/tests/bench/bench-cost.py

d=$(mktemp -d /tmp/xlmig-bench-cost.XXXXXX)
LABEL=integration-bench-cost
. "$here/lib.sh"

for f in "$XLMIG" "$GEN"; do
    if [ ! -x "$f" ]; then
        echo "missing $f: run make first"
        failed=1
        finish
    fi
done

# A 16 MiB guest, a full pass and two dirty rounds; named as make bench
# names its multi-round stream, so that the page cache sizes run too.
"$GEN" --synthetic 16M --rounds 30,10 -o "$d/busy-rounds.stream"
size=$(stat -c %s "$d/busy-rounds.stream")

python3 "$COST" --xlmig "$XLMIG" --runs 1 --methods cat,xapi,plain-none,none,zstd,zstd:3,auto \
    --caches 0,16 --auto-rates 1,25 --json "$d/cost.json" "$d/busy-rounds.stream" \
    > "$d/out" 2>&1
rc=$?
rows() {    # every method has its row of figures
    local m
    grep -Eq '^cat +[0-9.]+ +1\.000 ' "$d/out" || return 1
    for m in xapi plain-none none zstd zstd:3 auto auto@1g auto@25g zstd-cache0 \
             zstd-cache16; do
        grep -Eq "^$m +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +([0-9.]+|-) +([0-9.]+|-) +[0-9]+M +[0-9]+M " \
            "$d/out" || return 1
    done
}
if [ $rc -eq 0 ] && rows; then
    ok "bench-cost prints a row per method"
else
    not_ok "bench-cost's table (exit $rc)" "$d/out"
fi

if grep -Eq '^bench-cost: this machine writes fresh memory for [0-9.]+ CPU-s/GB \(4 KiB pages\), [0-9.]+ \(huge pages\), and the same memory again for [0-9.]+' "$d/out"; then
    ok "the cost of fresh memory on this machine"
else
    not_ok "no line on fresh memory's cost" "$d/out"
fi

for v in "codec none with TLS" "TLS adds" "zstd decodes" \
         "1 Gb/s, T=4: t <= 0.6x xapi" "t of auto <= t of none" \
         "page cache 16 MiB"; do
    if grep -Eq "^(met|NOT MET) +busy-rounds: .*$v" "$d/out"; then
        ok "verdict: $v"
    else
        not_ok "no verdict line for '$v'" "$d/out"
    fi
done

if python3 - "$d/cost.json" "$size" > "$d/check" 2>&1 <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))["busy-rounds"]
size = int(sys.argv[2])
assert res["size"] == size, res["size"]
for m, runs in res["runs"].items():
    assert len(runs) == 1, m
    r = runs[0]
    assert r["scpu"] > 0 and r["rcpu"] > 0, (m, r)
    assert r["srss"] > 1 and r["rrss"] > 1, (m, r)
    if m in ("cat", "xapi"):
        assert r["rpar"] == 1, (m, r)
    else:
        # our receiver's two stages, each a part of its CPU
        assert r["rpar"] == 2, (m, r)
        assert r["rnet"] > 0 and r["rdec"] > 0, (m, r)
        assert r["rnet"] + r["rdec"] <= r["rcpu"] * 1.05 + 0.01, (m, r)
    if m == "cat":
        assert r["wire"] == size, (m, r["wire"], size)
    elif m == "zstd:3":
        # level 3 (--level=3 reached the sender) sends less than 1
        z1 = res["runs"]["zstd"][0]["wire"]
        assert 0 < r["wire"] < z1, (m, r["wire"], z1)
    elif m.startswith("zstd") or m == "xapi":
        assert 0 < r["wire"] < size, (m, r["wire"], size)
    else:
        assert 0 < r["wire"], (m, r)
print("ok")
EOF
then
    ok "every run's figures hold together"
else
    not_ok "bench-cost's JSON" "$d/check"
fi

# A side that fails is an error, not a figure.
if python3 "$COST" --xlmig /bin/false --runs 1 --methods none \
       "$d/busy-rounds.stream" > "$d/bad" 2>&1; then
    not_ok "bench-cost measured a channel that never ran" "$d/bad"
elif grep -q "bench-cost: channel-listen exited 1 before it listened" \
         "$d/bad" && ! grep -q "CPU-s per GB" "$d/bad"; then
    ok "a side that fails ends the benchmark with its error"
else
    not_ok "bench-cost's error for a failing side" "$d/bad"
fi

finish
