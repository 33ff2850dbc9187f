#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# The disk stream through the channel (docs/specs/diskstream.md), with
# the CLIs on 127.0.0.1: a sparse qcow2 served read-only by qemu-nbd as
# the snapshot's reader; the destination made by
#   xlmig sxm-receive-start (qemu-storage-daemon serving parent and leaf)
# then
#   xlmig sxm-receive-data --task T --listen tcp:127.0.0.1:P --psk-file F
#   xlmig sxm-send-data --src-uri URI --to tcp:127.0.0.1:P --psk-file F
# then sxm-receive-finalize, and qemu-img compare against the source.
# Also: a wrong key refused on both sides, a sender cut mid-stream (the
# receiver fails), --help, and the TLS options' rules.
# Ends with "integration-diskstream: N passed, N failed".
#
# Environment: XLMIG_BIN, XLMIG_XE_BIN, XLMIG_BUILDDIR, XLMIG_SRCDIR;
# DS_SIZE (default 256M).
set -u

. "$(dirname "$0")/paths.sh"
SIZE=${DS_SIZE:-256M}

d=$(mktemp -d /tmp/xlmig-ds.XXXXXX)
LABEL=integration-diskstream
. "$here/lib.sh"

for b in "$XLMIG" "$XE"; do
    if [ ! -x "$b" ]; then
        echo "missing $b: run make check's build first"
        failed=1
        finish
    fi
done
for t in qemu-img qemu-io qemu-nbd qemu-storage-daemon openssl; do
    if ! command -v $t > /dev/null; then
        echo "missing $t: run scripts/install-deps.sh"
        failed=1
        finish
    fi
done

sh "$here/mkcerts.sh" "$d/certs" > /dev/null 2>&1 || { not_ok "mkcerts"; finish; }
SB=$d/sB
mkdir -p "$SB"
export XLMIG_STATE_DIR=$SB
"$XE" sr-create name-label=dstsr device-config:path="$d/srB" > /dev/null ||
    { not_ok "sr-create"; finish; }

cleanup_extra() {
    local f
    for f in "$SB"/sxm/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2> /dev/null
    done
}

# The source: compressible data in a few extents, one all-zero data
# extent, holes between, data up to the last byte.
qemu-img create -q -f qcow2 "$d/src.qcow2" "$SIZE"
qemu-io -f qcow2 -c "write -P 0xab 1M 8M" -c "write -P 0x5a 40M 3M" \
    -c "write -P 0 60M 2M" -c "write -P 0x11 100M 16M" \
    -c "write -P 0x77 $(( $(numfmt --from=iec "$SIZE") - 65536 )) 64k" \
    "$d/src.qcow2" > /dev/null
VSIZE=$(numfmt --from=iec "$SIZE")
qemu-nbd -r --persistent -f qcow2 -x snapshot -k "$d/src.sock" \
    "$d/src.qcow2" > "$d/qemu-nbd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$d/src.sock" ] && break; sleep 0.05; done
SRC_URI="nbd+unix:///snapshot?socket=$d/src.sock"

port() { echo $((20000 + RANDOM % 20000)); }

# receive_start: sets TASK and PARENT.
receive_start() {
    "$XLMIG" sxm-receive-start --sr dstsr --name disk --size "$VSIZE" \
        --listen "tcp:127.0.0.1:$(port)" > "$d/start.out" 2> "$d/start.err" || return 1
    TASK=$(sed -n 's/^task=//p' "$d/start.out")
    PARENT=$(sed -n 's/^parent=//p' "$d/start.out")
}

# start_receiver NAME OPTIONS...: sxm-receive-data in the background on
# a fresh port (P), RPID; waits for its "listening" line.
start_receiver() {
    local name=$1
    shift
    P=$(port)
    "$XLMIG" sxm-receive-data --task "$TASK" --listen "tcp:127.0.0.1:$P" "$@" \
        > "$d/$name.rout" 2> "$d/$name.rerr" &
    RPID=$!
    pids+=("$RPID")
    for _ in $(seq 200); do
        grep -q listening "$d/$name.rout" 2> /dev/null && return 0
        kill -0 "$RPID" 2> /dev/null || return 1
        sleep 0.05
    done
    return 1
}

# 1. The copy, zstd over TLS with a pre-shared key.
if receive_start; then
    ok "sxm-receive-start"
else
    not_ok "sxm-receive-start" "$d/start.err"
    finish
fi
start_receiver copy --psk-file "$d/certs/psk" || not_ok "receiver listens" "$d/copy.rerr"
timeout 120 "$XLMIG" sxm-send-data --src-uri "$SRC_URI" --to "tcp:127.0.0.1:$P" \
    --psk-file "$d/certs/psk" --codec zstd --progress > "$d/copy.sout" 2> "$d/copy.serr"
SRC_RC=$?
wait "$RPID"
RRC=$?
if [ $SRC_RC = 0 ] && [ $RRC = 0 ] && grep -q "flushed" "$d/copy.rout"; then
    ok "sxm-send-data | sxm-receive-data, zstd, PSK: $(sed -n 's/^sxm-send-data: //p' "$d/copy.sout")"
else
    not_ok "copy (send $SRC_RC, receive $RRC)" "$d/copy.sout" "$d/copy.serr" "$d/copy.rout" "$d/copy.rerr"
fi
wire=$(sed -n 's/.*, \([0-9]*\) bytes on the wire.*/\1/p' "$d/copy.sout")
data=$(sed -n 's/^sxm-send-data: \([0-9]*\) data bytes.*/\1/p' "$d/copy.sout")
if [ -n "$wire" ] && [ -n "$data" ] && [ "$wire" -lt $((data / 10)) ]; then
    ok "compressible data: $wire bytes on the wire for $data data bytes"
else
    not_ok "wire bytes ($wire) not well under the data ($data)" "$d/copy.sout"
fi
if "$XLMIG" sxm-receive-finalize --task "$TASK" > "$d/fin.out" 2> "$d/fin.err"; then
    ok "sxm-receive-finalize"
else
    not_ok "sxm-receive-finalize" "$d/fin.err"
fi
if qemu-img compare -q -f qcow2 -F qcow2 "$d/src.qcow2" "$d/srB/$PARENT.qcow2" > "$d/cmp.out" 2>&1; then
    ok "the destination VDI equals the source (qemu-img compare)"
else
    not_ok "qemu-img compare" "$d/cmp.out"
fi
"$XE" vdi-destroy uuid="$PARENT" > /dev/null 2>&1

# 2. A wrong key: both sides refuse; nothing is written.
receive_start || not_ok "sxm-receive-start (2)" "$d/start.err"
start_receiver wrong --psk-file "$d/certs/psk" || not_ok "receiver listens (2)" "$d/wrong.rerr"
timeout 60 "$XLMIG" sxm-send-data --src-uri "$SRC_URI" --to "tcp:127.0.0.1:$P" \
    --psk-file "$d/certs/psk-other" > "$d/wrong.sout" 2> "$d/wrong.serr"
SRC_RC=$?
wait "$RPID"
RRC=$?
if [ $SRC_RC = 1 ] && [ $RRC = 1 ] && grep -q SESSION_AUTHENTICATION_FAILED "$d/wrong.serr"; then
    ok "a wrong pre-shared key is refused on both sides"
else
    not_ok "wrong key (send $SRC_RC, receive $RRC)" "$d/wrong.serr" "$d/wrong.rerr"
fi

# 3. The sender killed mid-stream: the receiver fails, no flush claimed.
start_receiver cut --psk-file "$d/certs/psk" || not_ok "receiver listens (3)" "$d/cut.rerr"
"$XLMIG" sxm-send-data --src-uri "$SRC_URI" --to "tcp:127.0.0.1:$P" \
    --psk-file "$d/certs/psk" --codec none --bwlimit 4M > "$d/cut.sout" 2> "$d/cut.serr" &
SPID=$!
pids+=("$SPID")
sleep 1
kill -9 "$SPID" 2> /dev/null
wait "$SPID" 2> /dev/null
timeout 30 tail --pid="$RPID" -f /dev/null
wait "$RPID"
RRC=$?
if [ $RRC = 1 ] && ! grep -q flushed "$d/cut.rout" && grep -q "ERROR" "$d/cut.rerr"; then
    ok "sender killed mid-stream: the receiver fails ($(head -c 100 "$d/cut.rerr"))"
else
    not_ok "cut (receive $RRC)" "$d/cut.rout" "$d/cut.rerr"
fi
if "$XLMIG" sxm-receive-cancel --task "$TASK" > /dev/null 2> "$d/cancel.err"; then
    ok "sxm-receive-cancel after the failures"
else
    not_ok "sxm-receive-cancel" "$d/cancel.err"
fi

# 4. Help and usage.
if "$XLMIG" sxm-receive-data --help | grep -q -- "--psk-file" &&
   "$XLMIG" sxm-send-data --help | grep -q -- "--codec"; then
    ok "--help on both"
else
    not_ok "--help"
fi
"$XLMIG" sxm-send-data --src-uri "$SRC_URI" --to tcp:127.0.0.1:1 > /dev/null 2> "$d/u.err"
urc=$?
"$XLMIG" sxm-receive-data --task x --listen tcp:127.0.0.1:1 --no-tls --psk-file "$d/certs/psk" > /dev/null 2>> "$d/u.err"
urc2=$?
if [ $urc = 2 ] && [ $urc2 = 2 ] && grep -q "plain TCP only with --no-tls" "$d/u.err"; then
    ok "no TLS option, or --no-tls with a key: usage errors"
else
    not_ok "usage ($urc, $urc2)" "$d/u.err"
fi

finish
