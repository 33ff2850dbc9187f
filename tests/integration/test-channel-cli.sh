#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# End-to-end tests of `xlmig channel-send` / `xlmig channel-listen` as the
# transport of xl's migration protocol, with fake-xl playing both xl's:
#   fake-xl migrate -s "xlmig channel-send OPTS" --stream S DOM 127.0.0.1:PORT
#     -> exec xlmig channel-send OPTS 127.0.0.1:PORT xl migrate-receive
#     -> channel-listen --xl fake-xl -> fake-xl migrate-receive (checks S)
# All on 127.0.0.1, ports chosen by the kernel (--port 0 --port-file);
# everything started here is killed on exit.  Ends with
# "integration: N passed, N failed".
#
# Environment: XLMIG_BIN (default build/san/xlmig), XLMIG_BUILDDIR
# (default build), XLMIG_SRCDIR (default: the repository).
set -u

. "$(dirname "$0")/paths.sh"
FAKEXL=$bld/tests/tools/fake-xl
GENSTREAM=$bld/tests/tools/gen-stream
CORPUS=${XLMIG_CORPUS:-/work/shared/corpus/guest-busy-256m.raw.zst}


d=$(mktemp -d /tmp/xlmig-integration.XXXXXX)
LABEL=integration
. "$here/lib.sh"

for f in "$XLMIG" "$FAKEXL"; do
    if [ ! -x "$f" ]; then
        echo "missing $f: run make first"
        echo "integration: 0 passed, 1 failed"
        exit 1
    fi
done

# ---- material ----------------------------------------------------------
sh "$here/mkcerts.sh" "$d/tls" || { echo "integration: 0 passed, 1 failed"; exit 1; }
T=$d/tls
CERT1="--tls-cert=$T/host1.pem --tls-key=$T/host1.key --tls-ca=$T/ca.pem"
CERT2="--tls-cert=$T/host2.pem --tls-key=$T/host2.key --tls-ca=$T/ca.pem"
ROGUE="--tls-cert=$T/rogue.pem --tls-key=$T/rogue.key --tls-ca=$T/ca.pem"
PSK="--psk-file=$T/psk"

# A real xl-format stream (xl header, libxl and libxc records, pages with
# dirty rounds) from the guest corpus when there is one, else synthetic.
stream=$d/stream
if [ -x "$GENSTREAM" ] && [ -r "$CORPUS" ]; then
    zstd -dc "$CORPUS" 2>/dev/null | head -c $((24 << 20)) > "$d/ram"
    "$GENSTREAM" --rounds 20,5 --no-trailer -o "$stream" "$d/ram" 2>/dev/null
    rm -f "$d/ram"
fi
if [ ! -s "$stream" ] && [ -x "$GENSTREAM" ]; then
    "$GENSTREAM" --synthetic 24M --rounds 20,5 --no-trailer -o "$stream" 2>/dev/null
fi
if [ ! -s "$stream" ]; then
    { head -c $((8 << 20)) /dev/urandom; head -c $((8 << 20)) /dev/zero; } > "$stream"
fi
export FAKE_XL_EXPECT=$stream
export FAKE_XL_LOG=$d/xl.log
echo "# stream: $(wc -c < "$stream") bytes; xlmig: $XLMIG"

# ---- a full migration per codec, with certificates ----------------------
for codec in none zlib zstd lz4 auto; do
    name=cert-$codec
    start_listener "$name" $CERT2
    migrate "$name" "--codec=$codec --threads=2 $CERT1"
    wait_listener
    if [ "$MRC" -eq 0 ] && [ "$LRC" -eq 0 ] &&
       grep -q "^fake-xl migrate-receive: ok: $(wc -c < "$stream") bytes" "$FAKE_XL_LOG" &&
       grep -q "Migration successful" "$d/$name.xl" &&
       grep -q "transport process exited with status 0" "$d/$name.xl" &&
       grep -q "'xl migrate-receive' exited with status 0" "$d/$name.listen"; then
        ok "migration over TLS (certificates), --codec=$codec"
    else
        not_ok "migration over TLS (certificates), --codec=$codec" \
            "$d/$name.xl" "$d/$name.listen" "$FAKE_XL_LOG"
    fi
done

# ---- pre-shared key, and no TLS -----------------------------------------
for mode in psk notls; do
    name=$mode
    if [ $mode = psk ]; then o=$PSK; else o=--no-tls; fi
    start_listener "$name" $o --progress
    # --compress: the spelling of old of --codec, still taken.
    migrate "$name" "--compress=zstd --progress $o"
    wait_listener
    # The listener's last word has the CPU time of its receiving stages.
    if [ "$MRC" -eq 0 ] && [ "$LRC" -eq 0 ] &&
       grep -q "^fake-xl migrate-receive: ok" "$FAKE_XL_LOG" &&
       grep -q "xlmig channel-send: done: sent: in" "$d/$name.xl" &&
       grep -Eq "xlmig channel-listen: done: sent: .*; receive CPU: network [0-9]+\.[0-9]{3} s, decode [0-9]+\.[0-9]{3} s" "$d/$name.listen" &&
       ! grep -q "receive CPU: network 0.000 s, decode 0.000 s" "$d/$name.listen"; then
        ok "migration with $o"
    else
        not_ok "migration with $o" "$d/$name.xl" "$d/$name.listen" "$FAKE_XL_LOG"
    fi
done

# ---- xl's flags pass the whitelist; the target's failure is reported ----
name=target-fails
FAKE_XL_FAIL=1 start_listener "$name" $PSK
FAKE_XL_FAIL=1 timeout 60 "$FAKEXL" migrate -e -p --debug \
    -s "$XLMIG channel-send $PSK" --stream "$stream" 7 "127.0.0.1:$PORT" \
    2> "$d/$name.xl"
MRC=$?
wait_listener
if [ "$MRC" -eq 1 ] &&
   grep -q "Target reports startup failure" "$d/$name.xl" &&
   grep -q "transport process exited with status 0" "$d/$name.xl" &&
   grep -q "running 'xl migrate-receive -e -d -p'" "$d/$name.listen"; then
    ok "xl migrate -e -p --debug: flags accepted, the target's failure reaches the sender"
else
    not_ok "xl migrate -e -p --debug: target failure" "$d/$name.xl" "$d/$name.listen"
fi

# ---- a client of another pool is refused, clearly, on both sides --------
name=wrong-ca
start_listener "$name" $CERT2
migrate "$name" "$ROGUE"
wait_listener
if [ "$MRC" -ne 0 ] && [ "$LRC" -ne 0 ] &&
   grep -q "SESSION_AUTHENTICATION_FAILED: TLS handshake with 127.0.0.1:$PORT failed" "$d/$name.xl" &&
   grep -q "SESSION_AUTHENTICATION_FAILED: TLS handshake with 127.0.0.1:[0-9]* failed: certificate verify failed" "$d/$name.listen" &&
   grep -q "is the peer's certificate from this pool's CA?" "$d/$name.listen" &&
   grep -q "transport process exited with status 1" "$d/$name.xl" &&
   ! grep -q "running" "$d/$name.listen"; then
    ok "client certificate from another CA refused on both sides"
else
    not_ok "client certificate from another CA refused" "$d/$name.xl" "$d/$name.listen"
fi

name=wrong-psk
start_listener "$name" $PSK
migrate "$name" "--psk-file=$T/psk-other"
wait_listener
if [ "$MRC" -ne 0 ] && [ "$LRC" -ne 0 ] &&
   grep -q "SESSION_AUTHENTICATION_FAILED" "$d/$name.xl" &&
   grep -q "same pre-shared key" "$d/$name.listen"; then
    ok "wrong pre-shared key refused"
else
    not_ok "wrong pre-shared key refused" "$d/$name.xl" "$d/$name.listen"
fi

name=plain-client
start_listener "$name" $CERT2
timeout 30 "$XLMIG" channel-send --no-tls "127.0.0.1:$PORT" \
    < /dev/null > /dev/null 2> "$d/$name.send"
SRC=$?
wait_listener
if [ "$SRC" -ne 0 ] && [ "$LRC" -ne 0 ] &&
   grep -q "does not speak TLS 1.3: did it start with --no-tls?" "$d/$name.listen"; then
    ok "a plain-TCP client is refused by a TLS listener"
else
    not_ok "plain-TCP client refused" "$d/$name.send" "$d/$name.listen"
fi

# ---- only the whitelisted xl command runs --------------------------------
name=not-xl
start_listener "$name" $PSK
timeout 30 "$XLMIG" channel-send $PSK "127.0.0.1:$PORT" sh -c "touch $d/pwned" \
    < /dev/null > /dev/null 2> "$d/$name.send"
SRC=$?
wait_listener
if [ "$SRC" -eq 1 ] && [ ! -e "$d/pwned" ] &&
   grep -q "PERMISSION_DENIED: 127.0.0.1:$PORT refused to run 'sh -c touch" "$d/$name.send" &&
   grep -q "argument 1 ('sh') is not allowed" "$d/$name.send"; then
    ok "a command other than xl migrate-receive is refused, naming the argument"
else
    not_ok "non-xl command refused" "$d/$name.send" "$d/$name.listen"
fi

# ---- nothing listening ---------------------------------------------------
name=no-listener
start_listener "$name" $PSK        # take a free port, then free it again
kill -9 "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
timeout 30 "$XLMIG" channel-send $PSK "127.0.0.1:$PORT" \
    < /dev/null > /dev/null 2> "$d/$name.send"
SRC=$?
if [ "$SRC" -eq 1 ] &&
   grep -q "cannot connect to 127.0.0.1:$PORT: Connection refused: is 'xlmig channel-listen' running there" "$d/$name.send"; then
    ok "no listener: the error names the host and what to check"
else
    not_ok "no listener" "$d/$name.send"
fi

# ---- --bwlimit changed through --control while the stream runs ----------
name=control
start_listener "$name" $PSK
t0=$(date +%s.%N)
: > "$FAKE_XL_LOG"
timeout 60 "$FAKEXL" migrate \
    -s "$XLMIG channel-send --codec=none --bwlimit=512k --control=$d/ctl $PSK" \
    --stream "$stream" 7 "127.0.0.1:$PORT" 2> "$d/$name.xl" &
mpid=$!
pids+=("$mpid")
for i in $(seq 100); do [ -S "$d/ctl" ] && break; sleep 0.05; done
sleep 1
before=$(printf 'progress\n' | timeout 5 socat - "UNIX-CONNECT:$d/ctl" 2>&1)
reply=$(printf 'bwlimit 0\n' | timeout 5 socat - "UNIX-CONNECT:$d/ctl" 2>&1)
bad=$(printf 'frobnicate\n' | timeout 5 socat - "UNIX-CONNECT:$d/ctl" 2>&1)
wait "$mpid"
MRC=$?
wait_listener
secs=$(echo "$(date +%s.%N) - $t0" | bc)
echo "# control: before: $before"
echo "# control: reply: $reply; $bad; done in ${secs}s"
# At 512 KiB/s the stream would take ~$(( $(wc -c < "$stream") / 524288 )) s.
if [ "$MRC" -eq 0 ] && [ "$LRC" -eq 0 ] &&
   [ "$reply" = "ok bwlimit 0" ] &&
   echo "$before" | grep -q "bwlimit 512.0 KiB/s" &&
   echo "$bad" | grep -q "^error: unknown command" &&
   [ "$(echo "$secs < 15" | bc)" = 1 ] &&
   grep -q "^fake-xl migrate-receive: ok" "$FAKE_XL_LOG"; then
    ok "--bwlimit lifted through --control mid-stream (done in ${secs}s)"
else
    not_ok "--bwlimit through --control" "$d/$name.xl" "$d/$name.listen"
fi

# ---- the transport dies mid-stream: both xl's see the failure -----------
name=kill9
start_listener "$name" $PSK
: > "$FAKE_XL_LOG"
timeout 60 "$FAKEXL" migrate \
    -s "$XLMIG channel-send --codec=none --bwlimit=2M $PSK" \
    --stream "$stream" 7 "127.0.0.1:$PORT" 2> "$d/$name.xl" &
mpid=$!
pids+=("$mpid")
sleep 1.5
# timeout -> fake-xl -> channel-send (sh exec'd it)
xlpid=$(pgrep -P "$mpid" | head -1)
spid=
[ -n "$xlpid" ] && spid=$(pgrep -P "$xlpid" | head -1)
[ -n "$spid" ] && kill -9 "$spid"
wait "$mpid"
MRC=$?
wait_listener
if [ -n "$spid" ] && [ "$MRC" -eq 1 ] && [ "$LRC" -ne 0 ] &&
   grep -q "Migration failed, resuming at sender" "$d/$name.xl" &&
   grep -q "killed by signal 9" "$d/$name.xl" &&
   grep -q "^fake-xl migrate-receive: FAILED: the stream ended after" "$FAKE_XL_LOG" &&
   grep -Eq "without END|truncated" "$d/$name.listen" &&
   grep -q "'xl migrate-receive' exited with status 1; the stream failed" "$d/$name.listen"; then
    ok "channel-send killed mid-stream: the receiver sees the end, the sender resumes"
else
    not_ok "kill -9 of channel-send mid-stream" "$d/$name.xl" "$d/$name.listen" "$FAKE_XL_LOG"
fi

# ---- the listener side dies mid-stream -----------------------------------
name=listener-dies
start_listener "$name" $PSK
: > "$FAKE_XL_LOG"
timeout 60 "$FAKEXL" migrate \
    -s "$XLMIG channel-send --codec=none --bwlimit=2M $PSK" \
    --stream "$stream" 7 "127.0.0.1:$PORT" 2> "$d/$name.xl" &
mpid=$!
pids+=("$mpid")
sleep 1.5
kill -9 "$LPID"
wait "$LPID" 2>/dev/null
wait "$mpid"
MRC=$?
if [ "$MRC" -eq 1 ] &&
   grep -q "Migration failed, resuming at sender" "$d/$name.xl" &&
   grep -q "transport process exited with status 1" "$d/$name.xl"; then
    ok "channel-listen killed mid-stream: channel-send fails, xl resumes"
else
    not_ok "kill -9 of channel-listen mid-stream" "$d/$name.xl" "$d/$name.listen"
fi

echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
