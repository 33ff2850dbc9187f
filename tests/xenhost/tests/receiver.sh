#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Host 2's default test script: the receiving end of a cross-host live
# migration.  It listens on 10.77.0.2:$MIGRATE_PORT with "xl
# migrate-receive", copies its guests' console logs onto the share so host 1
# can watch them (start_agent), destroys a guest when host 1 asks, and ends
# when host 1's test has ended.  See remote_migrate in lib.sh for the protocol.
. /xenhost/lib.sh

plan cpu-record migrate-receive
mkdir -p "$H2_CONSOLE"

# This host's CPU record for host 1's checks, and a channel listener that
# refuses VMs this CPU cannot run (QEMU gives host 2 fewer features).
say "STEP cpu-record: xlmig-xe host-cpu-record host=h2"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > /tmp/cpu.psk
cp /tmp/cpu.psk "$SHARED/.cpu.psk"
xlmig channel-listen --bind 10.77.0.2 --port "$CPU_CHECK_PORT" \
    --psk-file /tmp/cpu.psk > /tmp/cpu-listen.out 2>&1 &
cpu_listen_pid=$!
if show xlmig-xe host-cpu-record host=h2 file=/tmp/h2.cpu.json &&
    cp /tmp/h2.cpu.json "$SHARED/.h2.cpu.tmp" &&
    mv "$SHARED/.h2.cpu.tmp" "$SHARED/h2.cpu.json"; then
    result cpu-record OK "($(xlmig-xe host-cpu-info params=vendor --minimal))"
else
    result cpu-record FAIL "xlmig-xe host-cpu-record failed"
fi

# Console logs -> share ($H2_CONSOLE), every second, until the end; the
# same loop answers host 1's clock_skew.
start_agent

# Migrations, one at a time: socat hands each connection to xl as its
# stdin/stdout.  A failed one is followed by a second chance (host 1 retries
# once, see remote_migrate_retry); each exit status goes to /tmp/receive.rc.
# After one that arrived, host 1 may still ask for a second (the guest
# died here of a triple fault): $SHARED/.receive-again, removed when this
# listens again.
rm -f /tmp/receive.rc "$SHARED/.receive-again"
(
    for attempt in 1 2; do
        timeout 1500 socat "TCP-LISTEN:$MIGRATE_PORT,reuseaddr" \
            EXEC:"xl migrate-receive -e"
        rc=$?
        echo "$rc" >> /tmp/receive.rc
        if [ $rc -eq 0 ]; then
            while [ ! -e "$SHARED/.receive-again" ] &&
                [ ! -e "$SHARED/.host1-exit" ]; do
                sleep 1
            done
            [ -e "$SHARED/.receive-again" ] || break
            rm -f "$SHARED/.receive-again"
        fi
    done
) &
receiver_pid=$!

n=0
while ! ss -Hltn | grep -q ":$MIGRATE_PORT\b" && [ $n -lt 30 ]; do
    sleep 1; n=$((n + 1))
done
touch "$SHARED/.h2-ready"
say "migration receiver listening on 10.77.0.2:$MIGRATE_PORT"

seen=0
n=0
while [ ! -e "$SHARED/.host1-exit" ] && [ $n -lt 1500 ]; do
    if [ -f /tmp/receive.rc ] && [ "$(wc -l < /tmp/receive.rc)" -gt $seen ]; then
        seen=$(wc -l < /tmp/receive.rc)
        say "xl migrate-receive exited $(tail -n 1 /tmp/receive.rc)"
        show xl list
    fi
    if [ -f "$SHARED/h2-destroy" ]; then
        name=$(cat "$SHARED/h2-destroy")
        rm -f "$SHARED/h2-destroy"
        say "host 1 asks to destroy $name (last tick here: $(guest_tick "$name"))"
        xl destroy "$name"
        sleep 1
        mirror_consoles final
        touch "$SHARED/h2-destroyed"
    fi
    sleep 1
    n=$((n + 1))
done

kill "$(cat /run/xenhost-agent.pid)" "$cpu_listen_pid" 2>/dev/null
say "channel-listen (CPU checks) said:"
sed 's/^/### | /' /tmp/cpu-listen.out
statuses=$(tr '\n' ' ' < /tmp/receive.rc 2>/dev/null)
if grep -qx 0 /tmp/receive.rc 2>/dev/null; then
    result migrate-receive OK "(xl migrate-receive exit statuses: $statuses)"
else
    result migrate-receive FAIL "${statuses:+xl migrate-receive exit statuses: $statuses}${statuses:-no migration arrived}"
fi
kill "$receiver_pid" 2>/dev/null
show xl list
