# SPDX-License-Identifier: LGPL-2.1-only
# Shared by tests/integration/test-*.sh (sourced, bash).  Before sourcing:
# LABEL (the summary's name: "integration-pool") and $d (a fresh temp
# directory, removed on exit).  Gives:
#   ok TEXT / not_ok TEXT [FILE...]   count a result (FILEs' tails shown)
#   finish                            print "LABEL: N passed, N failed", exit
#   pids+=(PID)                       killed (-9) on exit
#   cleanup_extra()                   define it for more cleanup on exit
# (KEEP=1 in the environment keeps $d, for looking at a failure.)
# and, with XLMIG and FAKEXL set, the channel's fake-xl round trip:
#   start_listener NAME OPTIONS...    a --once channel-listen on 127.0.0.1
#   wait_listener                     its exit status in LRC
#   migrate NAME "CHANNEL-SEND OPTIONS"  fake-xl migrate through
#                                     channel-send; status MRC, stderr in
#                                     $d/NAME.xl
passed=0
failed=0
pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if declare -F cleanup_extra > /dev/null; then
        cleanup_extra
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   - $1"; passed=$((passed + 1)); }
not_ok() {
    echo "FAIL - $1"
    shift
    local f
    for f in "$@"; do
        [ -f "$f" ] && { echo "  --- $(basename "$f"):"; sed 's/^/  | /' "$f" | tail -n 25; }
    done
    failed=$((failed + 1))
}
finish() {
    echo "$LABEL: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

LPID=
PORT=
start_listener() {
    local name=$1 i
    shift
    rm -f "$d/$name.port"
    "$XLMIG" channel-listen --bind 127.0.0.1 --port 0 \
        --port-file "$d/$name.port" --once --xl "$FAKEXL" "$@" \
        2> "$d/$name.listen" &
    LPID=$!
    pids+=("$LPID")
    for i in $(seq 200); do
        [ -s "$d/$name.port" ] && break
        sleep 0.05
    done
    PORT=$(cat "$d/$name.port" 2>/dev/null)
}

wait_listener() {
    local i
    for i in $(seq 600); do
        kill -0 "$LPID" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$LPID" 2>/dev/null
    wait "$LPID"
    LRC=$?
}

migrate() {
    local name=$1 opts=$2
    : > "$FAKE_XL_LOG"
    timeout 60 "$FAKEXL" migrate -s "$XLMIG channel-send $opts" \
        --stream "$stream" 7 "127.0.0.1:$PORT" 2> "$d/$name.xl"
    MRC=$?
}
