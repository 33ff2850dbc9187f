#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# End-to-end tests of tests/tools/nbd-writer (the guest writing to its
# disk in the storage migration tests) against a real qemu-nbd serving a
# qcow2 on a unix socket in the test's temporary directory:
#   fill 10%, 2000 random writes, replay into a raw reference that
#   `qemu-img compare` finds identical to the qcow2, verify over NBD;
#   damaged logs refused by line; stop-file, SIGTERM and SIGINT ending a
#   run with a complete log; a write by another process (qemu-io) making
#   verify fail; qemu-nbd killed and restarted under a running writer
#   (reconnected, nothing lost), and gone for good (the writer gives up
#   naming the offset).
# Nothing listens on the network.  Ends with
# "integration-nbd-writer: N passed, N failed".
#
# Environment: XLMIG_BUILDDIR (default build), XLMIG_SRCDIR (default: the
# repository).
set -u

. "$(dirname "$0")/paths.sh"
NW=$bld/tests/tools/nbd-writer
case $NW in /*) ;; *) NW=$PWD/$NW ;; esac

d=$(mktemp -d /tmp/xlmig-nbdw.XXXXXX)
LABEL=integration-nbd-writer
. "$here/lib.sh"

if [ ! -x "$NW" ] || ! command -v qemu-nbd > /dev/null ||
   ! command -v qemu-img > /dev/null || ! command -v qemu-io > /dev/null; then
    echo "missing $NW or qemu-nbd, qemu-img, qemu-io: run make (and scripts/install-deps.sh)"
    failed=1
    finish
fi

SOCK=$d/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
MiB=1048576
SIZE=$((64 * MiB))
IMG=$d/disk.qcow2
LOG=$d/disk.log
REF=$d/ref.raw
export TMPDIR=$d

NBDPID=
# start_nbd IMAGE [QEMU-NBD OPTIONS...]: serve IMAGE on $SOCK, wait until
# it answers.
start_nbd() {
    local img=$1 i
    shift
    rm -f "$SOCK"
    qemu-nbd --persistent --shared=4 --format=qcow2 --socket="$SOCK" "$@" \
        "$img" 2>> "$d/qemu-nbd.err" &
    NBDPID=$!
    pids+=("$NBDPID")
    for i in $(seq 200); do
        [ -S "$SOCK" ] && qemu-img info "$URI" > /dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "qemu-nbd did not start on $SOCK" >> "$d/qemu-nbd.err"
    return 1
}
# stop_nbd [SIGNAL]: stop qemu-nbd (TERM: it closes the image cleanly).
stop_nbd() {
    kill -"${1:-TERM}" "$NBDPID" 2>/dev/null
    wait "$NBDPID" 2>/dev/null
    NBDPID=
}
# wait_pid PID SECONDS: its exit status in WRC (killed after SECONDS).
wait_pid() {
    local pid=$1 i
    for i in $(seq $(($2 * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid"
    WRC=$?
}
# lines_of SEED [LOG]: number of log lines of that seed.
lines_of() { awk -v s="$1" '$1 == s' "${2:-$LOG}" | wc -l; }
# bytes_of SEED [LOG]: their total length.
bytes_of() { awk -v s="$1" '$1 == s { n += $4 } END { print n + 0 }' "${2:-$LOG}"; }
# ends_with_newline FILE
ends_with_newline() { [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ]; }

qemu-img create -q -f qcow2 "$IMG" "$SIZE"
if ! start_nbd "$IMG"; then
    not_ok "qemu-nbd serving $IMG on $SOCK" "$d/qemu-nbd.err"
    finish
fi

# ---- fill ----------------------------------------------------------------
timeout 60 "$NW" fill --uri "$URI" --log "$LOG" --seed 1 --percent 10 \
    > "$d/fill.out" 2> "$d/fill.err"
rc=$?
# 64 extents of 1 MiB, 10%: 6 of them, seq 0..5, at distinct 1 MiB offsets.
bad=$(awk -v m=$MiB '$1 != 1 || $2 != NR - 1 || $3 % m || $4 != m ||
                     seen[$3]++ || length($5) != 16 || $5 ~ /[^0-9a-f]/' "$LOG")
if [ $rc -eq 0 ] && [ "$(cat "$d/fill.out")" = "nbd-writer: 6 writes, 6291456 bytes" ] &&
   [ "$(wc -l < "$LOG")" = 6 ] && [ -z "$bad" ] && [ ! -s "$d/fill.err" ]; then
    ok "fill --percent 10: 6 distinct 1 MiB extents of 64, one log line each"
else
    not_ok "fill --percent 10 (exit $rc)" "$d/fill.out" "$d/fill.err" "$LOG"
fi

# ---- run --count 2000 --------------------------------------------------
timeout 120 "$NW" run --uri "$URI" --log "$LOG" --seed 2 --count 2000 \
    > "$d/run.out" 2> "$d/run.err"
rc=$?
bad=$(awk -v size=$SIZE 'NR > 6 && ($1 != 2 || $2 != NR - 7 || $3 % 512 ||
                         $4 % 512 || $4 < 512 || $4 > 65536 ||
                         $3 + $4 > size)' "$LOG")
if [ $rc -eq 0 ] &&
   [ "$(cat "$d/run.out")" = "nbd-writer: 2000 writes, $(bytes_of 2) bytes" ] &&
   [ "$(wc -l < "$LOG")" = 2006 ] && [ -z "$bad" ] && [ ! -s "$d/run.err" ]; then
    ok "run --count 2000: 2000 lines (seq 0..1999, 512..64K, aligned, inside the disk), one summary line"
else
    not_ok "run --count 2000 (exit $rc)" "$d/run.out" "$d/run.err"
fi

"$NW" verify --uri "$URI" --log "$LOG" > "$d/v1.out" 2> "$d/v1.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "matches $LOG (2006 lines, $SIZE bytes compared)" "$d/v1.out"; then
    ok "verify: the served disk matches the log"
else
    not_ok "verify (exit $rc)" "$d/v1.out" "$d/v1.err"
fi

# ---- replay and qemu-img compare -----------------------------------------
stop_nbd
"$NW" replay --log "$LOG" --out "$REF" --size "$SIZE" > "$d/rp.out" 2> "$d/rp.err"
rc=$?
qemu-img compare -f raw "$REF" -F qcow2 "$IMG" > "$d/cmp.out" 2>&1
crc=$?
if [ $rc -eq 0 ] && [ "$(stat -c %s "$REF" 2>/dev/null)" = "$SIZE" ] &&
   [ $crc -eq 0 ] && grep -q 'Images are identical' "$d/cmp.out"; then
    ok "replay: a 64 MiB raw reference that qemu-img compare finds identical to the qcow2"
else
    not_ok "replay + qemu-img compare (exit $rc, compare $crc)" "$d/rp.err" "$d/cmp.out"
fi
rm -f "$REF"

# ---- damaged logs ------------------------------------------------------
# replay_refused TEXT PATTERN: replay of $d/bad.log fails naming PATTERN
# on one line and leaves no reference behind.
replay_refused() {
    "$NW" replay --log "$d/bad.log" --out "$REF" --size "$SIZE" > "$d/bad.out" 2>&1
    local rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l < "$d/bad.out")" = 1 ] &&
       grep -q -- "$2" "$d/bad.out" && [ ! -e "$REF" ]; then
        ok "$1"
    else
        not_ok "$1 (exit $rc)" "$d/bad.out"
    fi
}
# The hash of line 10 changed in its last digit.
awk 'NR == 10 { c = substr($5, 16); $5 = substr($5, 1, 15) (c == "0" ? "1" : "0") } 1' \
    "$LOG" > "$d/bad.log"
replay_refused "replay: a damaged hash is refused naming line 10" \
    "bad.log line 10: corrupt: the data of seed 2 seq 3"
awk -v size=$SIZE 'NR == 20 { $3 = size } 1' "$LOG" > "$d/bad.log"
replay_refused "replay: a write at the disk's end is refused naming line 20" \
    "bad.log line 20: .* at offset $SIZE go past the end of the $SIZE-byte disk"
awk 'NR == 30 { $3 = "18446744073709551104" } 1' "$LOG" > "$d/bad.log"
replay_refused "replay: an offset near 2^64 (no overflow) is refused naming line 30" \
    "bad.log line 30: .* go past the end"
sed '40d' "$LOG" > "$d/bad.log"
replay_refused "replay: a lost line is seen at line 40" \
    "bad.log line 40: SEQ 34 of seed 2 does not follow"
{ head -n 6 "$LOG"; printf '1 6 0 512 %0300d\n' 0; } > "$d/bad.log"
replay_refused "replay: a 300-byte line is refused" \
    "bad.log line 7: malformed: longer than 255 bytes"
{ head -n 2 "$LOG"; echo "1 2 -512 512 0123456789abcdef"; } > "$d/bad.log"
replay_refused "replay: a negative offset is refused" \
    "bad.log line 3: malformed: OFFSET is not a decimal"
{ head -n 2 "$LOG"; sed -n 3p "$LOG" | tr a-f A-F; } > "$d/bad.log"
replay_refused "replay: an uppercase hash is refused" \
    "bad.log line 3: malformed: HASH is not 16 lowercase hex"
{ head -n 2 "$LOG"; sed -n 3p "$LOG" | tr -d '\n'; } > "$d/bad.log"
replay_refused "replay: a last line without its newline is refused" \
    "bad.log line 3: malformed: the last line has no newline"
{ head -n 2 "$LOG"; sed -n 3p "$LOG" | sed 's/$/ 7/'; } > "$d/bad.log"
replay_refused "replay: a sixth field is refused" "bad.log line 3: malformed"
head -n 3 "$LOG" > "$d/bad.log"
awk 'NR == 3 { $4 = 1024 } 1' "$d/bad.log" > "$d/bad2.log" && mv "$d/bad2.log" "$d/bad.log"
replay_refused "replay: a changed length fails its hash" "bad.log line 3: corrupt"

# ---- arguments -----------------------------------------------------------
args_ok=0
for a in "fill --uri $URI --log $LOG --seed 1 --percent 101" \
         "fill --uri $URI --log $LOG --seed 1 --percent 5 --extent 1000" \
         "fill --uri $URI --log $LOG --percent 5" \
         "run --uri $URI --log $LOG --seed 1 --max-size 0" \
         "run --uri $URI --log $LOG --seed 1 --max-size 64M" \
         "run --uri $URI --log $LOG --seed x" \
         "run --uri $URI --log $LOG --seed 1 --size 5" \
         "run --uri $URI --log $LOG --seed 1 extra" \
         "replay --log $LOG --out $REF --size 0" \
         "verify --log $LOG" \
         "verify --uri $URI --log $LOG --bogus" \
         "frobnicate"; do
    "$NW" $a > "$d/arg.out" 2>&1
    rc=$?
    if [ $rc -ne 2 ] || [ "$(wc -l < "$d/arg.out")" != 1 ]; then
        echo "'$a': exit $rc" >> "$d/args.err"
        cat "$d/arg.out" >> "$d/args.err"
        args_ok=1
    fi
done
for c in fill run replay verify; do
    "$NW" $c --help > "$d/help.out" 2>&1 && grep -q "^usage: nbd-writer $c " "$d/help.out" ||
        { echo "$c --help" >> "$d/args.err"; args_ok=1; }
done
"$NW" --help | grep -q '^  verify$' || args_ok=1
if [ $args_ok -eq 0 ]; then
    ok "bad arguments: exit 2 with one line; --help of every subcommand"
else
    not_ok "arguments" "$d/args.err"
fi
"$NW" verify --uri "nbd+unix:///?socket=$d/none.sock" --log "$LOG" > "$d/nc.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l < "$d/nc.out")" = 1 ] && grep -q "$d/none.sock" "$d/nc.out"; then
    ok "no server: exit 1, one line naming the URI"
else
    not_ok "no server (exit $rc)" "$d/nc.out"
fi

# ---- stopping a run --------------------------------------------------------
start_nbd "$IMG" || not_ok "qemu-nbd restart" "$d/qemu-nbd.err"
"$NW" run --uri "$URI" --log "$LOG" --seed 3 --interval-ms 2 \
    --stop-file "$d/stop" > "$d/s.out" 2> "$d/s.err" &
wp=$!
sleep 0.5
touch "$d/stop"
wait_pid $wp 10
n=$(lines_of 3)
if [ $WRC -eq 0 ] && [ "$n" -gt 0 ] &&
   [ "$(cat "$d/s.out")" = "nbd-writer: $n writes, $(bytes_of 3) bytes" ] &&
   ends_with_newline "$LOG"; then
    ok "run --stop-file: stops cleanly after $n writes, all of them logged"
else
    not_ok "run --stop-file (exit $WRC, $n lines)" "$d/s.out" "$d/s.err"
fi

for sig in TERM INT; do
    seed=$([ $sig = TERM ] && echo 4 || echo 5)
    "$NW" run --uri "$URI" --log "$LOG" --seed $seed > "$d/$sig.out" 2> "$d/$sig.err" &
    wp=$!
    sleep 0.5
    kill -$sig $wp
    wait_pid $wp 10
    n=$(lines_of $seed)
    if [ $WRC -eq 0 ] && [ "$n" -gt 0 ] &&
       [ "$(cat "$d/$sig.out")" = "nbd-writer: $n writes, $(bytes_of $seed) bytes" ] &&
       ends_with_newline "$LOG"; then
        ok "run stopped by SIG$sig in mid-stream: exit 0 after $n writes, all logged"
    else
        not_ok "run and SIG$sig (exit $WRC, $n lines)" "$d/$sig.out" "$d/$sig.err"
    fi
done

"$NW" verify --uri "$URI" --log "$LOG" > "$d/v2.out" 2> "$d/v2.err"
rc=$?
stop_nbd
"$NW" replay --log "$LOG" --out "$REF" --size "$SIZE" > "$d/rp2.out" 2> "$d/rp2.err" &&
    qemu-img compare -f raw "$REF" -F qcow2 "$IMG" > "$d/cmp2.out" 2>&1
crc=$?
if [ $rc -eq 0 ] && [ $crc -eq 0 ]; then
    ok "after five runs on one log: verify and qemu-img compare agree with it"
else
    not_ok "five runs: verify $rc, replay+compare $crc" "$d/v2.err" "$d/rp2.err" "$d/cmp2.out"
fi
rm -f "$REF"

# ---- verify can fail -------------------------------------------------------
start_nbd "$IMG" || not_ok "qemu-nbd restart" "$d/qemu-nbd.err"
qemu-io -f raw -c "write -P 0x55 $MiB 4096" "$URI" > "$d/qio.out" 2>&1
"$NW" verify --uri "$URI" --log "$LOG" > "$d/v3.out" 2>&1
rc=$?
off=$(sed -n 's/.*differs from the log .* at offset \([0-9]*\) .*/\1/p' "$d/v3.out")
if [ $rc -eq 1 ] && [ "$(wc -l < "$d/v3.out")" = 1 ] && [ -n "$off" ] &&
   [ "$off" -ge $MiB ] && [ "$off" -lt $((MiB + 4096)) ]; then
    ok "verify: 4 KiB written by another process (qemu-io) at 1 MiB found at offset $off"
else
    not_ok "verify after qemu-io wrote (exit $rc)" "$d/qio.out" "$d/v3.out"
fi
stop_nbd

# ---- the server goes away and comes back -------------------------------
# Writethrough: qemu-nbd acknowledges a write only once qcow2's metadata
# is on the file too, so acknowledged writes survive its kill -9.
IMG2=$d/restart.qcow2
LOG2=$d/restart.log
qemu-img create -q -f qcow2 "$IMG2" 16M
start_nbd "$IMG2" --cache=writethrough || not_ok "qemu-nbd" "$d/qemu-nbd.err"
"$NW" fill --uri "$URI" --log "$LOG2" --seed 1 --percent 100 > /dev/null 2> "$d/f2.err"
rm -f "$d/stop"
"$NW" run --uri "$URI" --log "$LOG2" --seed 6 --interval-ms 5 \
    --stop-file "$d/stop" > "$d/r.out" 2> "$d/r.err" &
wp=$!
sleep 0.5
stop_nbd 9
sleep 0.5
start_nbd "$IMG2" --cache=writethrough
sleep 0.5
stop_nbd TERM
sleep 0.3
start_nbd "$IMG2" --cache=writethrough
sleep 0.5
touch "$d/stop"
wait_pid $wp 20
n=$(lines_of 6 "$LOG2")
"$NW" verify --uri "$URI" --log "$LOG2" > "$d/v4.out" 2> "$d/v4.err"
vrc=$?
stop_nbd
"$NW" replay --log "$LOG2" --out "$REF" --size 16M > "$d/rp4.out" 2> "$d/rp4.err" &&
    qemu-img compare -f raw "$REF" -F qcow2 "$IMG2" > "$d/cmp4.out" 2>&1
crc=$?
if [ $WRC -eq 0 ] && [ "$(grep -c ': reconnected (write at offset' "$d/r.err")" -ge 2 ] &&
   [ "$(cat "$d/r.out")" = "nbd-writer: $n writes, $(bytes_of 6 "$LOG2") bytes" ] &&
   [ $vrc -eq 0 ] && [ $crc -eq 0 ]; then
    ok "qemu-nbd killed (-9, then TERM) and restarted under a run: $n writes, reconnected, image identical to the log"
else
    not_ok "restart under a run (exit $WRC, verify $vrc, compare $crc)" "$d/r.out" "$d/r.err" \
        "$d/v4.err" "$d/cmp4.out" "$d/qemu-nbd.err"
fi
rm -f "$REF"

start_nbd "$IMG2" --cache=writethrough || not_ok "qemu-nbd" "$d/qemu-nbd.err"
"$NW" run --uri "$URI" --log "$LOG2" --seed 7 --interval-ms 5 > "$d/g.out" 2> "$d/g.err" &
wp=$!
sleep 0.3
stop_nbd 9
t0=$(date +%s)
wait_pid $wp 20
t=$(($(date +%s) - t0))
if [ $WRC -eq 1 ] && [ "$(wc -l < "$d/g.err")" = 1 ] &&
   grep -q "$SOCK: write of [0-9]* bytes at offset [0-9]* failed 50 times over 5000 ms, giving up" "$d/g.err" &&
   [ $t -ge 4 ] && [ $t -le 15 ] && [ ! -s "$d/g.out" ] &&
   "$NW" replay --log "$LOG2" --out "$REF" --size 16M > /dev/null 2>&1; then
    ok "qemu-nbd gone for good: the run gives up after ${t} s naming the offset; its log still replays"
else
    not_ok "server gone (exit $WRC, ${t} s)" "$d/g.out" "$d/g.err"
fi
rm -f "$REF"

# ---- fill 100% and 0% on an odd size ---------------------------------------
# 8 MiB + 64 KiB: the last of 9 extents is cut short.
IMG3=$d/full.qcow2
LOG3=$d/full.log
SIZE3=$((8 * MiB + 65536))
qemu-img create -q -f qcow2 "$IMG3" $SIZE3
start_nbd "$IMG3" || not_ok "qemu-nbd" "$d/qemu-nbd.err"
"$NW" fill --uri "$URI" --log "$LOG3" --seed 8 --percent 0 > "$d/f0.out" 2>&1
rc0=$?
"$NW" fill --uri "$URI" --log "$LOG3" --seed 9 --percent 100 > "$d/f100.out" 2>&1
rc=$?
stop_nbd
qemu-img map --output=json -f qcow2 "$IMG3" > "$d/map.out" 2>&1
"$NW" replay --log "$LOG3" --out "$REF" --size $SIZE3 > "$d/rp5.out" 2>&1 &&
    qemu-img compare -f raw "$REF" -F qcow2 "$IMG3" > "$d/cmp5.out" 2>&1
crc=$?
if [ $rc0 -eq 0 ] && [ "$(cat "$d/f0.out")" = "nbd-writer: 0 writes, 0 bytes" ] &&
   [ $rc -eq 0 ] && [ "$(cat "$d/f100.out")" = "nbd-writer: 9 writes, $SIZE3 bytes" ] &&
   [ "$(tail -n 1 "$LOG3" | cut -d' ' -f3,4)" = "$((8 * MiB)) 65536" ] &&
   [ $crc -eq 0 ] && grep -q '"data": true' "$d/map.out" &&
   ! grep -q '"data": false' "$d/map.out"; then
    ok "fill 0% writes nothing; fill 100% allocates the whole qcow2, last extent cut at the end"
else
    not_ok "fill 0%/100% (exit $rc0, $rc, compare $crc)" "$d/f0.out" "$d/f100.out" "$d/cmp5.out" "$d/map.out" "$LOG3"
fi

finish
