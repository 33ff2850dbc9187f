#!/bin/sh
# Host 2's default test script: the receiving end of a cross-host live
# migration.  It listens on 10.77.0.2:$MIGRATE_PORT with "xl
# migrate-receive", copies its guests' console logs onto the share so host 1
# can watch them, destroys a guest when host 1 asks, and ends when host 1's
# test has ended.  See remote_migrate in lib.sh for the protocol.
. /xenhost/lib.sh

plan migrate-receive
mkdir -p "$H2_CONSOLE"

# Console logs -> share, every second, until the end.
(
    while :; do
        cp -p "$CONSOLE_LOGS"/guest-*.log "$H2_CONSOLE"/ 2>/dev/null
        sleep 1
    done
) &
mirror_pid=$!

# One migration: socat hands the connection to xl as its stdin/stdout.
rm -f /tmp/receive.rc
(
    timeout 1500 socat "TCP-LISTEN:$MIGRATE_PORT,reuseaddr" \
        EXEC:"xl migrate-receive -e"
    echo $? > /tmp/receive.rc
) &
receiver_pid=$!

n=0
while ! ss -Hltn | grep -q ":$MIGRATE_PORT\b" && [ $n -lt 30 ]; do
    sleep 1; n=$((n + 1))
done
touch "$SHARED/.h2-ready"
say "migration receiver listening on 10.77.0.2:$MIGRATE_PORT"

received=""
n=0
while [ ! -e "$SHARED/.host1-exit" ] && [ $n -lt 1500 ]; do
    if [ -z "$received" ] && [ -f /tmp/receive.rc ]; then
        received=$(cat /tmp/receive.rc)
        say "xl migrate-receive exited $received"
        show xl list
    fi
    if [ -f "$SHARED/h2-destroy" ]; then
        name=$(cat "$SHARED/h2-destroy")
        rm -f "$SHARED/h2-destroy"
        say "host 1 asks to destroy $name (last tick here: $(guest_tick "$name"))"
        xl destroy "$name"
        sleep 1
        cp -p "$CONSOLE_LOGS"/guest-*.log "$H2_CONSOLE"/ 2>/dev/null
        touch "$SHARED/h2-destroyed"
    fi
    sleep 1
    n=$((n + 1))
done

kill "$mirror_pid" 2>/dev/null
[ -n "$received" ] || received=$(cat /tmp/receive.rc 2>/dev/null)
if [ "$received" = 0 ]; then
    result migrate-receive OK
else
    result migrate-receive FAIL "${received:+xl migrate-receive rc=$received}${received:-no migration arrived}"
    kill "$receiver_pid" 2>/dev/null
fi
show xl list
