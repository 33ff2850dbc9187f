#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# xlmigd and the two protocols of systemd it speaks, without systemd
# (tools/xlmigd.service):
#   sd_notify: with NOTIFY_SOCKET naming a Unix datagram socket that the
#   test binds (a path, then an abstract name), READY=1 arrives when the
#   daemon accepts connections, STOPPING=1 when SIGTERM stops it; a
#   daemon that cannot listen sends no READY=1 and fails;
#   the journal: with JOURNAL_STREAM naming the daemon's standard error
#   (as systemd sets it), its log lines carry no time of their own; with
#   no JOURNAL_STREAM, or one naming another stream (inherited), they do.
# Ends with "integration-systemd: N passed, N failed".
#
# Environment: XLMIGD_BIN (default build/san/xlmigd), XLMIG_BUILDDIR,
# XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"

d=$(mktemp -d /tmp/xlmig-systemd.XXXXXX)
LABEL=integration-systemd
. "$here/lib.sh"

[ -x "$XLMIGD" ] || { echo "missing $XLMIGD: run make first"; failed=1; finish; }

openssl rand -hex 32 > "$d/psk" && chmod 600 "$d/psk"
UUID=7d1e2c3b-4a5f-4e6d-8c7b-9a0b1c2d3e4f
PORT=$((20000 + RANDOM % 20000))
conf() {   # NAME ADDRESS -> $d/NAME.conf, a one-host pool
    cat > "$d/$1.conf" <<EOT
name = $1
address = $2
master = $2
pool-name = systemd
pool-uuid = $UUID
psk-file = $d/psk
state-dir = $d/state-$1
EOT
}

# The service manager's end: binds ADDRESS (a path, or @NAME for an
# abstract one), touches OUT.bound, then writes each datagram to OUT as
# a line; on READY=1 it connects to HOST:PORT at once and adds whether
# that worked ("READY=1 listening" or "READY=1 refused").
receiver() {   # ADDRESS HOST:PORT OUT
    python3 - "$@" <<'PY' &
import socket, sys
addr, probe, out = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".bound", "w").close()
host, port = probe.rsplit(":", 1)
with open(out, "w", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode(errors="replace").replace("\n", " ")
        if msg == "READY=1":
            try:
                socket.create_connection((host, int(port)), timeout=2).close()
                msg += " listening"
            except OSError:
                msg += " refused"
        f.write(msg + "\n")
PY
    RPID=$!
    pids+=("$RPID")
    for i in $(seq 100); do
        [ -e "$3.bound" ] && return 0
        sleep 0.05
    done
    return 1
}
wait_for() {   # FILE PATTERN: up to 20 s
    for i in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop() {   # PID: SIGTERM, then its exit status in SRC
    kill -TERM "$1"
    for i in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    wait "$1"
    SRC=$?
}
quiet_kill() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
stamped='^xlmigd [0-2][0-9]:[0-5][0-9]:[0-6][0-9]: '

# ---- a path, outside the journal ---------------------------------------------
conf h1 "127.0.0.1:$PORT"
receiver "$d/notify.sock" "127.0.0.1:$PORT" "$d/n1.out"
NOTIFY_SOCKET=$d/notify.sock "$XLMIGD" --foreground --config "$d/h1.conf" \
    2> "$d/h1.log" &
D=$!
pids+=("$D")
wait_for "$d/n1.out" READY=1
ready=$(cat "$d/n1.out")
wait_for "$d/h1.log" 'refused 127.0.0.1'   # the probe, done with
stop "$D"
wait_for "$d/n1.out" STOPPING=1
if [ "$ready" = "READY=1 listening" ] &&
   [ "$(tr '\n' '|' < "$d/n1.out")" = "READY=1 listening|STOPPING=1|" ] &&
   [ "$SRC" -eq 0 ]; then
    ok "NOTIFY_SOCKET=PATH: READY=1 once listening, STOPPING=1 on SIGTERM"
else
    not_ok "notify to a path (got '$(tr '\n' '|' < "$d/n1.out")', exit $SRC)" \
        "$d/h1.log"
fi
# The daemon's own lines (not the library's "libxlmig: error: ...").
lines=$(grep -c '^xlmigd' "$d/h1.log")
if [ "$lines" -ge 2 ] && [ "$(grep -c "$stamped" "$d/h1.log")" -eq "$lines" ] &&
   grep -q "${stamped}pool master of systemd" "$d/h1.log"; then
    ok "no JOURNAL_STREAM: each of the daemon's lines stamped 'xlmigd HH:MM:SS: '"
else
    not_ok "log lines outside the journal" "$d/h1.log"
fi
quiet_kill "$RPID"

# ---- an abstract name, standard error the journal's stream ----------------------
conf h2 "127.0.0.1:$((PORT + 1))"
receiver "@xlmig-test-$$" "127.0.0.1:$((PORT + 1))" "$d/n2.out"
: > "$d/h2.log"
(
    exec 2>> "$d/h2.log"
    # What systemd sets: the device and inode of the stream it gave.
    export JOURNAL_STREAM=$(stat -c %d:%i "$d/h2.log")
    NOTIFY_SOCKET=@xlmig-test-$$ exec "$XLMIGD" --foreground \
        --config "$d/h2.conf"
) &
D=$!
pids+=("$D")
wait_for "$d/n2.out" READY=1
ready=$(cat "$d/n2.out")
wait_for "$d/h2.log" 'refused 127.0.0.1'
stop "$D"
wait_for "$d/n2.out" STOPPING=1
if [ "$ready" = "READY=1 listening" ] && grep -q '^STOPPING=1$' "$d/n2.out" &&
   [ "$SRC" -eq 0 ]; then
    ok "NOTIFY_SOCKET=@NAME (abstract): READY=1 once listening, STOPPING=1"
else
    not_ok "notify to an abstract name (got '$(tr '\n' '|' < "$d/n2.out")', exit $SRC)" \
        "$d/h2.log"
fi
if ! grep -q '^xlmigd' "$d/h2.log" &&
   grep -q '^pool master of systemd' "$d/h2.log" &&
   grep -qx 'stopped' "$d/h2.log"; then
    ok "JOURNAL_STREAM names standard error: the lines carry no time or name"
else
    not_ok "log lines to the journal" "$d/h2.log"
fi
quiet_kill "$RPID"

# ---- JOURNAL_STREAM inherited, standard error elsewhere ---------------------------
conf h3 "127.0.0.1:$((PORT + 2))"
JOURNAL_STREAM=1:1 "$XLMIGD" --foreground --config "$d/h3.conf" \
    2> "$d/h3.log" &
D=$!
pids+=("$D")
wait_for "$d/h3.log" 'listening on'
stop "$D"
lines=$(grep -c '^xlmigd' "$d/h3.log")
if [ "$lines" -ge 2 ] && [ "$(grep -c "$stamped" "$d/h3.log")" -eq "$lines" ]; then
    ok "JOURNAL_STREAM naming another stream: the lines stay stamped"
else
    not_ok "an inherited JOURNAL_STREAM" "$d/h3.log"
fi

# ---- a daemon that cannot listen is never ready -----------------------------------
conf h4 "192.0.2.1:$PORT"    # TEST-NET-1: not an address of this host
receiver "$d/notify4.sock" "192.0.2.1:$PORT" "$d/n4.out"
NOTIFY_SOCKET=$d/notify4.sock timeout 20 "$XLMIGD" --foreground \
    --config "$d/h4.conf" 2> "$d/h4.log"
rc=$?
sleep 0.3
quiet_kill "$RPID"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ! grep -q READY "$d/n4.out" &&
   grep -q 'cannot listen on 192.0.2.1' "$d/h4.log"; then
    ok "cannot listen: no READY=1, exit $rc"
else
    not_ok "a daemon that cannot listen (exit $rc, got '$(tr '\n' '|' < "$d/n4.out")')" \
        "$d/h4.log"
fi

finish
