#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# A throw-away 3-member etcd cluster on loopback for the tests (the etcd
# client's unit test, tests/unit/test-etcd.c), TLS on for clients and
# peers, client certificates required (DIR/certs, from mkcerts.sh: the
# members are host1, host2, host3; a client presents host1).  Member N
# listens on 127.0.0.N only, on free ports other than etcd's 2379/2380
# (a packaged etcd may hold those on 127.0.0.1).
#
#   etcd-cluster.sh start DIR     make DIR/certs, start the members, wait
#                                 until all are healthy (20 s at most);
#                                 DIR/endpoints: the client URLs,
#                                 comma-separated; DIR/pids: a pid a line
#   etcd-cluster.sh stop DIR      kill every member (-9), wait for them
#   etcd-cluster.sh kill DIR N    kill -9 member N (1..3)
#   etcd-cluster.sh pause DIR N   stop member N (SIGSTOP): its connections
#                                 stay open and say nothing
#   etcd-cluster.sh restart DIR N start member N again on its data and
#                                 wait until it is healthy
#
# With XLMIG_CLUSTER_OWNER=PID, start also leaves a watcher that stops
# the cluster once PID (the test) is gone, however it ended.  With
# XLMIG_CLUSTER_CERTS=DIR, the members take the TLS material of DIR (as
# mkcerts.sh makes it) instead of new: another cluster of the same CA.
#
# Each member logs to DIR/mN.log and keeps its data in DIR/mN.data.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
ETCD=${ETCD:-etcd}
ETCDCTL=${ETCDCTL:-etcdctl}
HEALTH_TIMEOUT_S=20
# An ETCD_* variable in the environment would configure the members too.
for v in $(env | sed -n 's/^\(ETCD_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done
export ETCDCTL_API=3

die() {
    echo "etcd-cluster: $*" >&2
    exit 1
}

usage() {
    die "usage: etcd-cluster.sh start|stop DIR, kill|pause|restart DIR N"
}

# Whether TCP port $1 is free on every address (anything listening on
# it, on any address, counts as taken).
port_free() {
    ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Six free ports (a client and a peer port per member) in $d/ports.
pick_ports() {
    local tries=0 base p ok
    while [ $tries -lt 50 ]; do
        tries=$((tries + 1))
        base=$((20000 + (RANDOM % 2000) * 10))
        ok=1
        for p in $(seq $base $((base + 5))); do
            if [ "$p" -eq 2379 ] || [ "$p" -eq 2380 ] || ! port_free "$p"; then
                ok=0
                break
            fi
        done
        if [ $ok -eq 1 ]; then
            echo "$base" > "$d/ports"
            return 0
        fi
    done
    die "no 6 free ports found"
}

client_port() { echo $(($(cat "$d/ports") + 2 * ($1 - 1))); }
peer_port() { echo $(($(cat "$d/ports") + 2 * ($1 - 1) + 1)); }
client_url() { echo "https://127.0.0.$1:$(client_port "$1")"; }

etcdctl_tls() {
    "$ETCDCTL" --cacert "$d/certs/ca.pem" --cert "$d/certs/host1.pem" \
        --key "$d/certs/host1.key" --dial-timeout 1s --command-timeout 2s "$@"
}

# start_member N STATE: member N in the background, its pid in line N of
# $d/pids.
start_member() {
    local n=$1 state=$2 cluster="" i pid
    for i in 1 2 3; do
        cluster="${cluster:+$cluster,}m$i=https://127.0.0.$i:$(peer_port $i)"
    done
    "$ETCD" --name "m$n" --data-dir "$d/m$n.data" \
        --listen-client-urls "$(client_url "$n")" \
        --advertise-client-urls "$(client_url "$n")" \
        --listen-peer-urls "https://127.0.0.$n:$(peer_port "$n")" \
        --initial-advertise-peer-urls "https://127.0.0.$n:$(peer_port "$n")" \
        --initial-cluster "$cluster" --initial-cluster-state "$state" \
        --initial-cluster-token "xlmig-test-$(cat "$d/ports")" \
        --cert-file "$d/certs/host$n.pem" --key-file "$d/certs/host$n.key" \
        --trusted-ca-file "$d/certs/ca.pem" --client-cert-auth \
        --peer-cert-file "$d/certs/host$n.pem" \
        --peer-key-file "$d/certs/host$n.key" \
        --peer-trusted-ca-file "$d/certs/ca.pem" --peer-client-cert-auth \
        --heartbeat-interval 25 --election-timeout 250 \
        --logger zap --log-outputs stderr \
        >> "$d/m$n.log" 2>&1 < /dev/null &
    pid=$!
    [ -f "$d/pids" ] || printf '0\n0\n0\n' > "$d/pids"
    sed -i "${n}s/.*/$pid/" "$d/pids"
}

# wait_healthy URL...: until etcdctl says every one is healthy.
wait_healthy() {
    local eps deadline
    eps=$(IFS=,; echo "$*")
    deadline=$((SECONDS + HEALTH_TIMEOUT_S))
    while ! etcdctl_tls --endpoints "$eps" endpoint health \
            > "$d/health.log" 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            die "$eps not healthy after $HEALTH_TIMEOUT_S s:" \
                "$(tr '\n' ' ' < "$d/health.log") (logs: $d/m*.log)"
        fi
        sleep 0.1
    done
}

member_pid() { sed -n "${1}p" "$d/pids"; }

# Whether process $1 still runs (a zombie, which nobody may reap soon
# when init is our parent's parent, does not).
alive() {
    local st
    st=$(sed -n 's/^[0-9]* ([^)]*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

[ $# -ge 2 ] || usage
cmd=$1
d=$2
case $cmd in
start)
    command -v "$ETCD" > /dev/null || die "$ETCD is not installed (etcd-server)"
    command -v "$ETCDCTL" > /dev/null ||
        die "$ETCDCTL is not installed (etcd-client)"
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    if [ -n "${XLMIG_CLUSTER_CERTS:-}" ]; then
        mkdir -p "$d/certs"
        cp "$XLMIG_CLUSTER_CERTS"/* "$d/certs/"
    else
        sh "$here/mkcerts.sh" "$d/certs"
    fi
    pick_ports
    rm -f "$d/pids"
    for n in 1 2 3; do
        start_member "$n" new
    done
    echo "$(client_url 1),$(client_url 2),$(client_url 3)" > "$d/endpoints"
    # A cluster lives no longer than its owner, when one is named: a test
    # that crashed stops nothing itself.
    if [ -n "${XLMIG_CLUSTER_OWNER:-}" ]; then
        (
            while kill -0 "$XLMIG_CLUSTER_OWNER" 2> /dev/null &&
                    [ -f "$d/pids" ]; do
                sleep 1
            done
            "$0" stop "$d"
        ) > /dev/null 2>&1 < /dev/null &
    fi
    if ! (wait_healthy "$(client_url 1)" "$(client_url 2)" \
            "$(client_url 3)"); then
        "$0" stop "$d"
        exit 1
    fi
    ;;
stop)
    [ -f "$d/pids" ] || exit 0
    pids=$(grep -v '^0$' "$d/pids" || true)
    for p in $pids; do
        kill -9 "$p" 2>/dev/null || true
    done
    # Not our children (another shell started them): wait by polling.
    for _ in $(seq 100); do
        alive=0
        for p in $pids; do
            alive "$p" && alive=1
        done
        [ $alive -eq 0 ] && break
        sleep 0.05
    done
    ;;
kill)
    [ $# -eq 3 ] || usage
    p=$(member_pid "$3")
    [ -n "$p" ] && [ "$p" != 0 ] || die "member $3 is not running"
    kill -9 "$p" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$p" || break
        sleep 0.05
    done
    sed -i "${3}s/.*/0/" "$d/pids"
    ;;
pause)
    [ $# -eq 3 ] || usage
    p=$(member_pid "$3")
    [ -n "$p" ] && [ "$p" != 0 ] || die "member $3 is not running"
    kill -STOP "$p"
    ;;
restart)
    [ $# -eq 3 ] || usage
    d=$(cd "$d" && pwd)
    start_member "$3" existing
    wait_healthy "$(client_url "$3")"
    ;;
*)
    usage
    ;;
esac
