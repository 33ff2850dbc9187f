#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# End-to-end tests of xlmigd and the pool commands: a master and two
# members, each a separate xlmigd on its own loopback address
# (127.0.0.1, .2, .3), TLS with the pool CA's certificates.
#   membership, maintenance mode (host-disable: the master refuses a
#   slot to the host, the host itself a migration into it; host-enable),
#   settings (and their refusals), 60 racing migrations with
#   migration-concurrency 3 (never more than 3 at once, FIFO, all done),
#   kill -9 of a slot holder frees its slot, a master restart keeps the
#   settings, a certificate of another CA and malformed frames refused.
# Ends with "integration-pool: N passed, N failed".
#
# Environment: XLMIG_BIN, XLMIG_XE_BIN, XLMIGD_BIN (default build/san/...),
# XLMIG_BUILDDIR, XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"

d=$(mktemp -d /tmp/xlmig-pool.XXXXXX)
LABEL=integration-pool
. "$here/lib.sh"
cleanup_extra() {
    ip link del "xh$$" 2>/dev/null
    ip netns del "xlt$$" 2>/dev/null
}

for f in "$XLMIG" "$XE" "$XLMIGD"; do
    [ -x "$f" ] || { echo "missing $f: run make first"; failed=1; finish; }
done

sh "$here/mkcerts.sh" "$d/tls" > /dev/null 2>&1 || { echo "mkcerts failed"; failed=1; finish; }
T=$d/tls
UUID=3f5a1c9e-7b2d-4e8f-9a6b-1c2d3e4f5a6b
PORT=$((20000 + RANDOM % 20000))
conf() {   # N CERT -> $d/hN.conf
    cat > "$d/h$1.conf" <<EOT
name = h$1
address = 127.0.0.$1:$PORT
master = 127.0.0.1:$PORT
pool-name = test
pool-uuid = $UUID
tls-cert = $T/$2.pem
tls-key = $T/$2.key
tls-ca = $T/ca.pem
state-dir = $d/state$1
orphan-grace = 3
EOT
}
conf 1 host1
conf 2 host2
conf 3 host2
sed "s|$T/host2|$T/rogue|" "$d/h3.conf" > "$d/rogue.conf"

start() {   # N
    "$XLMIGD" --foreground --config "$d/h$1.conf" >> "$d/xlmigd$1.log" 2>&1 &
    eval "D$1=$!"
    pids+=("$!")
}
wait_master() {
    local i
    for i in $(seq 100); do
        "$XE" host-list config="$d/h1.conf" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# ---- a pool of three --------------------------------------------------------
start 1
if wait_master; then
    start 2
    start 3
    for i in $(seq 100); do
        [ "$("$XE" host-list config="$d/h1.conf" params=name-label --minimal 2>/dev/null | wc -l)" -ge 3 ] && break
        sleep 0.1
    done
fi
names=$("$XE" host-list config="$d/h2.conf" params=name-label --minimal 2>&1 | sort | tr '\n' ' ')
if [ "$names" = "h1 h2 h3 " ]; then
    ok "three xlmigd: the members joined (host-list from a member: $names)"
else
    not_ok "pool of three (host-list: '$names')" "$d/xlmigd1.log" "$d/xlmigd2.log"
fi

"$XE" host-list config="$d/h2.conf" --json > "$d/hlj.out" 2>&1
rc=$?
"$XE" task-list config="$d/h1.conf" --json params=uuid,vm > "$d/tlj.out" 2>&1
rct=$?
"$XLMIG" pool-stats --config "$d/h1.conf" --json > "$d/psj.out" 2>&1
rcs=$?
if [ $rc -eq 0 ] && [ $rct -eq 0 ] && [ $rcs -eq 0 ] && python3 -c '
import json, sys
hl = json.load(open(sys.argv[1]))
assert sorted(h["name-label"] for h in hl) == ["h1", "h2", "h3"], hl
by = {h["name-label"]: h for h in hl}
assert by["h1"]["master"] is True and by["h2"]["master"] is False, hl
assert all(h["enabled"] is True and isinstance(h["joined"], int) for h in hl)
assert by["h1"]["address"].startswith("127.0.0.1:"), hl
assert json.load(open(sys.argv[2])) == []
ps = json.load(open(sys.argv[3]))
assert list(ps) == ["held", "queued", "limit", "held_max", "grants",
                    "out_of_order"], ps
assert ps["held"] == 0 and all(isinstance(v, int) for v in ps.values()), ps
' "$d/hlj.out" "$d/tlj.out" "$d/psj.out" 2> "$d/json.py"; then
    ok "host-list --json (master and enabled as true/false), task-list --json (none: []), pool-stats --json"
else
    not_ok "--json (exit $rc, $rct, $rcs)" "$d/hlj.out" "$d/tlj.out" "$d/psj.out" "$d/json.py"
fi

# ---- eject and join -----------------------------------------------------------
"$XE" pool-eject host=h3 config="$d/h2.conf" > "$d/eject.out" 2>&1
after=$("$XE" host-list config="$d/h1.conf" params=name-label --minimal 2>&1 | sort | tr '\n' ' ')
"$XE" pool-eject host=h1 config="$d/h2.conf" > "$d/eject1.out" 2>&1
rc1=$?
"$XE" pool-join config="$d/h3.conf" > "$d/join.out" 2>&1
back=$("$XE" host-list config="$d/h1.conf" params=name-label --minimal 2>&1 | sort | tr '\n' ' ')
if [ "$after" = "h1 h2 " ] && [ $rc1 -ne 0 ] && [ "$back" = "h1 h2 h3 " ] &&
   grep -q 'h3 joined pool' "$d/join.out"; then
    ok "pool-eject host=h3, then pool-join from h3; the master cannot be ejected"
else
    not_ok "eject/join ('$after', '$back', eject master exit $rc1)" "$d/eject.out" "$d/join.out" "$d/eject1.out"
fi

# ---- maintenance mode: host-disable, host-enable -----------------------------
# rpc ADDRESS METHOD JSON: one request to the xlmigd at ADDRESS (after
# hello); prints "ok RESULT" or "NAME: message".
rpc() {
    python3 - "$T" "$1" "$2" "$3" "$UUID" <<'PY'
import socket, ssl, struct, sys, json
tls, addr, method, params, uuid = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(tls + "/ca.pem")
ctx.load_cert_chain(tls + "/host2.pem", tls + "/host2.key")
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
s.recv(1)
def read(n):
    b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        if not x: sys.exit("the connection ended")
        b += x
    return b
def call(i, m, p):
    b = json.dumps({"v": 1, "id": i, "method": m, "params": p}).encode()
    s.sendall(struct.pack(">I", len(b)) + b)
    return json.loads(read(struct.unpack(">I", read(4))[0]))
call(1, "hello", {"pool_uuid": uuid})
r = call(2, method, json.loads(params))
if "error" in r:
    print("%s: %s" % (r["error"]["name"], r["error"].get("message", "")))
else:
    print("ok", json.dumps(r["result"]))
PY
}
enabled_list() {   # CONFIG: "h1,true h2,false ..." sorted
    "$XE" host-list config="$1" params=name-label,enabled --minimal 2>&1 | sort | tr '\n' ' '
}
"$XE" host-disable host=h2 config="$d/h3.conf" > "$d/dis.out" 2>&1
rc=$?
hl=$(enabled_list "$d/h1.conf")
"$XE" host-list config="$d/h2.conf" > "$d/hl.out" 2>&1
if [ $rc = 0 ] && [ "$hl" = "h1,true h2,false h3,true " ] &&
   grep -q '^   enabled ( RO): false$' "$d/hl.out" &&
   grep -q '^   address ( RO): 127.0.0.2' "$d/hl.out"; then
    ok "host-disable host=h2 from a member; host-list shows enabled false for h2 only ($hl)"
else
    not_ok "host-disable h2 (exit $rc; $hl)" "$d/dis.out" "$d/hl.out" "$d/xlmigd1.log"
fi
"$XLMIG" slot-run --config "$d/h3.conf" --vm tod2 --source h3 \
    --destination h2 --hold-ms 10 > "$d/tod2.out" 2>&1
rc=$?
tl=$("$XE" task-list config="$d/h1.conf" params=vm --minimal 2>&1)
if [ $rc != 0 ] && grep -q 'HOST_DISABLED: .*host h2 is disabled (maintenance): VM tod2 may not arrive there; run .xlmig-xe host-enable host=h2. first' "$d/tod2.out" &&
   [ -z "$tl" ] && "$XLMIG" pool-stats --config "$d/h1.conf" | grep -q 'held 0 queued 0'; then
    ok "a slot for a migration to disabled h2: the master refuses it (HOST_DISABLED, saying host-enable), nothing queued"
else
    not_ok "slot to a disabled host (exit $rc; task-list '$tl')" "$d/tod2.out"
fi
# The destination refuses too, on its own: the master told it at once.
MIGT=6d1f4c2a-3b5e-4f70-8a9b-0c1d2e3f4a5b
r=$(rpc "127.0.0.2:$PORT" vm.receive_start "{\"task\": \"$MIGT\", \"vm\": \"web9\", \"vm_uuid\": \"$MIGT\", \"source\": \"h3\"}" 2>&1)
if echo "$r" | grep -q '^HOST_DISABLED: .*host h2 is disabled (maintenance): VM web9 may not arrive there; run .xlmig-xe host-enable host=h2.' &&
   [ ! -e "$d/state2/migrate-in/$MIGT.json" ] &&
   grep -q 'the master says host h2 is disabled' "$d/xlmigd2.log"; then
    ok "h2 itself refuses a migration into it (vm.receive_start) right after host-disable returned; no journal made"
else
    not_ok "vm.receive_start at disabled h2 ($r)" "$d/xlmigd2.log"
fi
"$XE" host-disable host=h2 config="$d/h1.conf" > "$d/dis2.out" 2>&1
rc=$?
"$XE" host-disable host=h9 config="$d/h2.conf" > "$d/dis9.out" 2>&1
rc9=$?
"$XE" host-enable host=h9 config="$d/h2.conf" > "$d/en9.out" 2>&1
rce9=$?
"$XE" host-disable config="$d/h2.conf" > "$d/disnone.out" 2>&1
rcn=$?
hl=$(enabled_list "$d/h1.conf")
if [ $rc = 0 ] && [ $rc9 = 1 ] && [ $rce9 = 1 ] && [ $rcn = 2 ] &&
   grep -q 'NOT_FOUND: .*host h9 is not a member of pool test (host-list shows its hosts)' "$d/dis9.out" &&
   grep -q 'NOT_FOUND: .*host h9 is not a member of pool test' "$d/en9.out" &&
   grep -q 'MISSING_PARAMETER: host-disable needs host=' "$d/disnone.out" &&
   [ "$hl" = "h1,true h2,false h3,true " ]; then
    ok "host-disable again is no error; unknown host h9 is NOT_FOUND naming the pool; host= missing is a usage error; nothing changed"
else
    not_ok "host-disable again / unknown host (exits $rc $rc9 $rce9 $rcn; $hl)" "$d/dis2.out" "$d/dis9.out" "$d/en9.out" "$d/disnone.out"
fi
sed "s/^master = .*/master = 127.0.0.2:$PORT/" "$d/h3.conf" > "$d/tomember.conf"
"$XE" host-enable host=h2 config="$d/tomember.conf" > "$d/tomember.out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "NOT_SUPPORTED: .*host.enable: host h2 is a member of pool test; ask its master, 127.0.0.1:$PORT" "$d/tomember.out" &&
   [ "$(enabled_list "$d/h1.conf")" = "h1,true h2,false h3,true " ]; then
    ok "a member asked to host-enable refuses, naming the master; nothing changed"
else
    not_ok "host-enable at a member (exit $rc)" "$d/tomember.out"
fi
# A migration waiting for a slot when its destination is disabled goes no
# further; one running (holding its slot) finishes.
"$XE" host-enable host=h2 config="$d/h3.conf" > "$d/en.out" 2>&1
rc=$?
"$XE" pool-param-set migration-concurrency=1 config="$d/h1.conf" > /dev/null 2>&1
"$XLMIG" slot-run --config "$d/h3.conf" --vm holder --source h3 \
    --destination h2 --hold-ms 4000 > "$d/holder.out" 2>&1 &
hpid=$!
pids+=("$hpid")
for i in $(seq 50); do grep -q granted "$d/holder.out" && break; sleep 0.1; done
"$XLMIG" slot-run --config "$d/h3.conf" --vm waiter2 --source h3 \
    --destination h2 --hold-ms 10 > "$d/waiter2.out" 2>&1 &
wpid=$!
pids+=("$wpid")
for i in $(seq 50); do
    "$XE" task-list config="$d/h1.conf" params=vm,status --minimal 2>/dev/null | grep -q 'waiter2,queued' && break
    sleep 0.1
done
"$XE" host-disable host=h2 config="$d/h1.conf" > /dev/null 2>&1
wait "$wpid"
wrc=$?
wait "$hpid"
hrc=$?
if [ $rc = 0 ] && [ $wrc != 0 ] && grep -q 'HOST_DISABLED: .*VM waiter2 may not arrive there' "$d/waiter2.out" &&
   [ $hrc = 0 ] && grep -q released "$d/holder.out" && ! grep -q HOST_DISABLED "$d/holder.out"; then
    ok "host-disable while one migration to h2 holds the only slot and one waits: the running one finishes, the waiting one is refused (HOST_DISABLED)"
else
    not_ok "disable with a migration running and one waiting (exits $rc $hrc $wrc)" "$d/holder.out" "$d/waiter2.out"
fi
"$XE" host-enable host=h2 config="$d/h2.conf" > "$d/en2.out" 2>&1
rc=$?
"$XE" pool-param-set migration-concurrency=3 config="$d/h1.conf" > /dev/null 2>&1
"$XLMIG" slot-run --config "$d/h3.conf" --vm tod2b --source h3 \
    --destination h2 --hold-ms 10 > "$d/tod2b.out" 2>&1
src=$?
r=$(rpc "127.0.0.2:$PORT" vm.receive_start "{\"task\": \"$MIGT\", \"vm\": \"web9\", \"vm_uuid\": \"$MIGT\", \"source\": \"h3\", \"vdis\": \"$MIGT\"}" 2>&1)
if [ $rc = 0 ] && [ $src = 0 ] && grep -q 'released task' "$d/tod2b.out" &&
   [ "$(enabled_list "$d/h1.conf")" = "h1,true h2,true h3,true " ] &&
   echo "$r" | grep -q '^NOT_FOUND: vm.receive_start names a VDI this host does not have' &&
   grep -q 'the master says host h2 is enabled' "$d/xlmigd2.log"; then
    ok "host-enable host=h2: host-list shows it enabled, a slot to h2 is granted, and h2 takes a migration again (it goes on to its next check)"
else
    not_ok "host-enable h2 (exits $rc $src; $r)" "$d/en2.out" "$d/tod2b.out" "$d/xlmigd2.log"
fi

# ---- settings ---------------------------------------------------------------
v=$("$XE" pool-param-get param-name=migration-concurrency config="$d/h3.conf" 2>&1)
c=$("$XE" pool-param-get param-name=migration-compression config="$d/h3.conf" 2>&1)
w=$("$XE" pool-param-get param-name=wlb-hook config="$d/h3.conf" 2>&1)
t=$("$XE" pool-param-get param-name=wlb-hook-timeout config="$d/h3.conf" 2>&1)
if [ "$v" = 3 ] && [ "$c" = false ] && [ -z "$w" ] && [ "$t" = 10 ]; then
    ok "defaults: migration-concurrency 3, migration-compression false, no wlb-hook, wlb-hook-timeout 10"
else
    not_ok "defaults ($v, $c, '$w', $t)"
fi
bad=0
for val in 0 51 abc 3x "" -1; do
    "$XE" pool-param-set migration-concurrency="$val" config="$d/h2.conf" > "$d/bad.out" 2>&1 && bad=1
    grep -q 'INVALID_VALUE\|INVALID_ARGUMENT' "$d/bad.out" || bad=1
done
"$XE" pool-param-set migration-compression=maybe config="$d/h2.conf" > /dev/null 2>&1 && bad=1
for val in 0 121 10s ""; do
    "$XE" pool-param-set wlb-hook-timeout="$val" config="$d/h2.conf" > "$d/bad.out" 2>&1 && bad=1
    grep -q "INVALID_VALUE: .* pool parameter wlb-hook-timeout: \"$val\" is not valid" "$d/bad.out" || bad=1
done
"$XE" pool-param-set wlb-hook="$(printf 'a\tb')" config="$d/h2.conf" > "$d/bad.out" 2>&1 && bad=1
grep -q 'INVALID_VALUE: .* pool parameter wlb-hook: "a?b" is not valid: byte 1 is not printable ASCII' "$d/bad.out" || bad=1
if [ $bad = 0 ] && [ "$("$XE" pool-param-get param-name=migration-concurrency config="$d/h1.conf")" = 3 ] &&
   [ -z "$("$XE" pool-param-get param-name=wlb-hook config="$d/h1.conf")" ] &&
   [ "$("$XE" pool-param-get param-name=wlb-hook-timeout config="$d/h1.conf")" = 10 ]; then
    ok "pool-param-set refuses 0, 51, abc, 3x, '', -1, maybe; wlb-hook-timeout 0, 121, 10s, ''; a wlb-hook with a tab; nothing changed"
else
    not_ok "pool-param-set refusals" "$d/bad.out"
fi

# ---- 60 racing migrations, limit 3 -----------------------------------------
for i in $(seq 60); do
    "$XLMIG" slot-run --config "$d/h$((i % 2 + 2)).conf" --vm "vm$i" \
        --source h2 --destination h3 --hold-ms 100 > "$d/run$i.out" 2>&1 &
    pids+=("$!")
    sleep 0.01
done
wait_all() {
    local i
    for i in $(seq 600); do
        [ "$(grep -l 'released task' "$d"/run*.out 2>/dev/null | wc -l)" -ge "$1" ] && return 0
        jobs -r | grep -q slot-run || true
        sleep 0.1
    done
}
wait_all 60
done60=$(grep -l 'released task' "$d"/run*.out | wc -l)
stats=$("$XLMIG" pool-stats --config "$d/h1.conf" 2>&1)
held_max=$(echo "$stats" | sed -n 's/.*held_max \([0-9]*\).*/\1/p')
ooo=$(echo "$stats" | sed -n 's/.*out_of_order \([0-9]*\).*/\1/p')
if [ "$done60" = 60 ] && [ "$held_max" = 3 ] && [ "$ooo" = 0 ] &&
   echo "$stats" | grep -q 'held 0 queued 0 limit 3'; then
    ok "60 racing migrations, limit 3: never more than 3 at once, FIFO, all done ($stats)"
else
    not_ok "60 migrations ($done60 finished; $stats)" "$d/run1.out" "$d/run60.out" "$d/xlmigd1.log"
fi

# ---- no waiting: TOO_MANY_MIGRATIONS [limit] ----------------------------------
for i in 1 2 3; do
    "$XLMIG" slot-run --config "$d/h2.conf" --vm "long$i" --source h2 \
        --destination h3 --hold-ms 12000 > "$d/long$i.out" 2>&1 &
    pids+=("$!")
done
sleep 1
"$XLMIG" slot-run --config "$d/h2.conf" --vm quick --source h2 \
    --destination h3 --hold-ms 10 --no-wait > "$d/nowait.out" 2>&1
rc=$?
tl=$("$XE" task-list config="$d/h3.conf" params=vm,status --minimal 2>&1 | tr '\n' ' ')
if [ $rc -ne 0 ] && grep -q 'TOO_MANY_MIGRATIONS' "$d/nowait.out" &&
   [ "$(echo "$tl" | grep -o running | wc -l)" = 3 ]; then
    ok "--no-wait with 3 slots taken: TOO_MANY_MIGRATIONS at once; task-list from a member shows 3 running"
else
    not_ok "--no-wait (exit $rc; task-list: $tl)" "$d/nowait.out"
fi

# ---- a waiting task cancelled; the limit raised while they run ----------------
"$XLMIG" slot-run --config "$d/h3.conf" --vm waiter --source h2 \
    --destination h3 --hold-ms 10 > "$d/waiter.out" 2>&1 &
wpid=$!
pids+=("$wpid")
sleep 0.5
wid=$("$XE" task-list config="$d/h2.conf" 2>/dev/null | awk '/uuid/ {id=$NF} /vm \( RO\): waiter/ {print id}')
"$XE" task-cancel uuid="$wid" config="$d/h2.conf" > "$d/cancel.out" 2>&1
wait "$wpid"
wrc=$?
if [ -n "$wid" ] && [ $wrc -ne 0 ] && grep -q 'CANCELLED' "$d/waiter.out"; then
    ok "task-cancel from a member takes a queued migration out of the line"
else
    not_ok "task-cancel of a waiting task (id '$wid', exit $wrc)" "$d/waiter.out" "$d/cancel.out"
fi
"$XLMIG" slot-run --config "$d/h3.conf" --vm fourth --source h2 \
    --destination h3 --hold-ms 10 > "$d/fourth.out" 2>&1 &
fpid=$!
pids+=("$fpid")
sleep 0.5
"$XE" pool-param-set migration-concurrency=4 config="$d/h2.conf" > "$d/raise.out" 2>&1
wait "$fpid"
if grep -q 'granted' "$d/fourth.out" && ! grep -q released "$d/long1.out"; then
    ok "migration-concurrency raised to 4 while 3 run: the waiting one starts at once, none broken"
else
    not_ok "raising the limit live" "$d/fourth.out" "$d/raise.out"
fi
# They hold 12 s (long enough for the steps above on a loaded machine).
for i in $(seq 300); do
    grep -q released "$d/long1.out" && grep -q released "$d/long3.out" && break
    sleep 0.1
done
if grep -q released "$d/long1.out" && grep -q released "$d/long3.out"; then
    ok "the three long migrations finished normally after the change"
else
    not_ok "long migrations" "$d/long1.out"
fi
"$XE" pool-param-set migration-concurrency=3 config="$d/h2.conf" > /dev/null 2>&1

# ---- kill -9 of a slot holder frees its slot ----------------------------------
"$XLMIG" slot-run --config "$d/h2.conf" --vm victim --source h2 \
    --destination h3 --hold-ms 60000 > "$d/victim.out" 2>&1 &
vpid=$!
pids+=("$vpid")
for i in $(seq 50); do grep -q granted "$d/victim.out" && break; sleep 0.1; done
{ kill -9 "$vpid"; wait "$vpid"; } 2>/dev/null
t0=$(date +%s%N)
for i in $(seq 100); do
    "$XE" task-list config="$d/h1.conf" params=vm --minimal 2>/dev/null | grep -q victim || break
    sleep 0.1
done
freed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if ! "$XE" task-list config="$d/h1.conf" params=vm --minimal 2>/dev/null | grep -q victim &&
   "$XLMIG" pool-stats --config "$d/h1.conf" | grep -q 'held 0 '; then
    ok "kill -9 of a slot holder: its slot is free again (${freed_ms} ms)"
else
    not_ok "kill -9 of a holder" "$d/xlmigd1.log"
fi

# ---- a master restart keeps the settings and the members -----------------------
"$XE" pool-param-set migration-concurrency=7 migration-compression=true \
    wlb-hook="/usr/local/bin/wlb --prefer 'h3'" wlb-hook-timeout=30 config="$d/h2.conf" > "$d/set7.out" 2>&1
"$XE" host-disable host=h3 config="$d/h2.conf" >> "$d/set7.out" 2>&1
kill -9 "$D1"
wait "$D1" 2>/dev/null
start 1
wait_master
v=$("$XE" pool-param-get param-name=migration-concurrency config="$d/h2.conf" 2>&1)
c=$("$XE" pool-param-get param-name=migration-compression config="$d/h2.conf" 2>&1)
w=$("$XE" pool-param-get param-name=wlb-hook config="$d/h3.conf" 2>&1)
t=$("$XE" pool-param-get param-name=wlb-hook-timeout config="$d/h3.conf" 2>&1)
n=$("$XE" host-list config="$d/h1.conf" params=name-label --minimal 2>&1 | wc -l)
hl=$(enabled_list "$d/h1.conf")
if [ "$v" = 7 ] && [ "$c" = true ] && [ "$n" = 3 ] && [ "$hl" = "h1,true h2,true h3,false " ] &&
   [ "$w" = "/usr/local/bin/wlb --prefer 'h3'" ] && [ "$t" = 30 ]; then
    ok "master killed (-9) and restarted: settings (7, true, the wlb-hook and its 30 s), 3 members and h3 disabled kept"
else
    not_ok "master restart ($v, $c, '$w', $t, $n members; $hl)" "$d/set7.out" "$d/xlmigd1.log"
fi
"$XE" host-enable host=h3 config="$d/h2.conf" > "$d/en3.out" 2>&1 ||
    not_ok "host-enable h3 after the restart" "$d/en3.out"

# ---- a migration in flight outlives a master restart, for a while ---------------
"$XLMIG" slot-run --config "$d/h2.conf" --vm inflight --source h2 \
    --destination h3 --hold-ms 60000 > "$d/inflight.out" 2>&1 &
ipid=$!
pids+=("$ipid")
for i in $(seq 50); do grep -q granted "$d/inflight.out" && break; sleep 0.1; done
kill -9 "$D1"
wait "$D1" 2>/dev/null
start 1
wait_master
st1=$("$XE" task-list config="$d/h3.conf" params=vm,status --minimal 2>&1 | tr '\n' ' ')
sleep 5          # orphan-grace is 3 s in this pool
st2=$("$XE" task-list config="$d/h3.conf" params=vm --minimal 2>&1)
if [ "$st1" = "inflight,recovered " ] && [ -z "$st2" ] &&
   "$XLMIG" pool-stats --config "$d/h1.conf" | grep -q 'held 0 '; then
    ok "a running migration is recovered after a master restart, and its slot freed when nobody resumes it"
else
    not_ok "recovery of a migration in flight ('$st1', then '$st2')" "$d/xlmigd1.log"
fi
{ kill -9 "$ipid"; wait "$ipid"; } 2>/dev/null

# ---- a holder's host dies without a word: its slot is freed within seconds ----
# The holder runs in a network namespace this test creates, joined to a
# second pool master by a veth pair; taking its end down cuts the host off
# (no FIN, no RST): only TCP keepalive can notice.
NS=xlt$$
SUB=10.231.$((RANDOM % 200 + 1))
PORTB=$((PORT + 1))
if ip netns add "$NS" 2>/dev/null &&
   ip link add "xh$$" type veth peer name "xn$$" &&
   ip link set "xn$$" netns "$NS" &&
   ip addr add "$SUB.1/24" dev "xh$$" && ip link set "xh$$" up &&
   ip netns exec "$NS" ip addr add "$SUB.2/24" dev "xn$$" &&
   ip netns exec "$NS" ip link set "xn$$" up; then
    sed -e "s/^name = .*/name = hb/" -e "s/^address = .*/address = $SUB.1:$PORTB/" \
        -e "s/^master = .*/master = $SUB.1:$PORTB/" -e "s|^state-dir = .*|state-dir = $d/stateB|" \
        "$d/h1.conf" > "$d/hb.conf"
    sed -e "s/^name = .*/name = hc/" -e "s/^address = .*/address = $SUB.2:$PORTB/" \
        -e "s/^master = .*/master = $SUB.1:$PORTB/" "$d/h2.conf" > "$d/hc.conf"
    "$XLMIGD" --foreground --config "$d/hb.conf" >> "$d/xlmigdb.log" 2>&1 &
    DB=$!
    pids+=("$DB")
    for i in $(seq 50); do "$XLMIG" pool-stats --config "$d/hb.conf" > /dev/null 2>&1 && break; sleep 0.1; done
    ip netns exec "$NS" "$XLMIG" slot-run --config "$d/hc.conf" --vm lost \
        --source hc --destination hb --hold-ms 600000 > "$d/lost.out" 2>&1 &
    lpid=$!
    pids+=("$lpid")
    for i in $(seq 100); do grep -q granted "$d/lost.out" && break; sleep 0.1; done
    held_before=$("$XLMIG" pool-stats --config "$d/hb.conf" 2>&1)
    t0=$(date +%s%N)
    ip netns exec "$NS" ip link set "xn$$" down
    for i in $(seq 300); do
        "$XLMIG" pool-stats --config "$d/hb.conf" 2>/dev/null | grep -q 'held 0 ' && break
        sleep 0.1
    done
    lost_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if echo "$held_before" | grep -q 'held 1 ' &&
       "$XLMIG" pool-stats --config "$d/hb.conf" | grep -q 'held 0 ' && [ $lost_ms -le 10000 ]; then
        ok "the holder's host cut off (its link down, no FIN): its slot freed after ${lost_ms} ms"
    else
        not_ok "host death ($held_before; ${lost_ms} ms)" "$d/lost.out" "$d/xlmigdb.log"
    fi
    { kill -9 "$lpid" "$DB"; wait "$lpid" "$DB"; } 2>/dev/null
else
    not_ok "host death: cannot create network namespace $NS (needs root and iproute2)"
fi
cleanup_extra

# ---- strangers are refused -------------------------------------------------------
"$XE" host-list config="$d/rogue.conf" > "$d/rogue.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q 'SESSION_AUTHENTICATION_FAILED\|AUTH' "$d/rogue.out"; then
    ok "a client with a certificate of another CA is refused"
else
    not_ok "rogue certificate (exit $rc)" "$d/rogue.out"
fi
sed "s/^pool-uuid = .*/pool-uuid = 00000000-0000-4000-8000-000000000000/" "$d/h2.conf" > "$d/wrongpool.conf"
"$XE" host-list config="$d/wrongpool.conf" > "$d/wrongpool.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q 'not 00000000' "$d/wrongpool.out"; then
    ok "a member of another pool (uuid) is refused at hello"
else
    not_ok "wrong pool uuid (exit $rc)" "$d/wrongpool.out"
fi

# ---- malformed frames, unknown methods ---------------------------------------------
python3 -u - "$T" "$PORT" > "$d/raw.out" 2>&1 <<'PY'
import socket, ssl, struct, sys, json
tls, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(tls + "/ca.pem")
ctx.load_cert_chain(tls + "/host2.pem", tls + "/host2.key")
ctx.check_hostname = False
def conn():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    s.recv(1)       # the server's confirmation byte (docs/specs/channel.md)
    return s
def send(s, b):
    s.sendall(struct.pack(">I", len(b)) + b)
def recv(s):
    h = b""
    while len(h) < 4:
        x = s.recv(4 - len(h))
        if not x: return None
        h += x
    n = struct.unpack(">I", h)[0]; b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        if not x: return None
        b += x
    return json.loads(b)
def req(s, i, m, p):
    send(s, json.dumps({"v": 1, "id": i, "method": m, "params": p}).encode())
    return recv(s)
s = conn()
r = req(s, 1, "hello", {"pool_uuid": "3f5a1c9e-7b2d-4e8f-9a6b-1c2d3e4f5a6b"})
print("hello", "result" in r)
r = req(s, 2, "pool.frobnicate", {})
print("unknown", r["error"]["name"])
r = req(s, 3, "pool.param_set", {"key": "migration-concurrency", "value": "51"})
print("range", r["error"]["name"])
send(s, b"{not json")
r = recv(s)
print("garbage", r["error"]["name"] if r else "closed")
s = conn()
s.sendall(struct.pack(">I", 10 << 20))
r = recv(s)
print("oversized", r["error"]["name"] if r else "closed")
s = conn()
r = req(s, 1, "host.list", {})
print("nohello", r["error"]["name"])
PY
if grep -q '^hello True' "$d/raw.out" && grep -q '^unknown UNSUPPORTED\|^unknown NOT_SUPPORTED' "$d/raw.out" &&
   grep -q '^range INVALID' "$d/raw.out" && grep -q '^garbage PROTOCOL' "$d/raw.out" &&
   grep -q '^oversized closed' "$d/raw.out" && grep -q '^nohello PROTOCOL' "$d/raw.out" &&
   [ "$("$XE" pool-param-get param-name=migration-concurrency config="$d/h2.conf")" = 7 ]; then
    ok "raw TLS client: unknown method, out-of-range value, malformed JSON, oversized frame, no hello: each refused, nothing changed"
else
    not_ok "raw frames" "$d/raw.out" "$d/xlmigd1.log"
fi
# ---- SIGTERM stops a daemon (systemd's stop) -------------------------------------
kill -TERM "$D1"
for i in $(seq 50); do kill -0 "$D1" 2>/dev/null || break; sleep 0.1; done
if ! kill -0 "$D1" 2>/dev/null && tail -n 1 "$d/xlmigd1.log" | grep -q 'stopped'; then
    ok "SIGTERM stops xlmigd at once"
else
    not_ok "SIGTERM" "$d/xlmigd1.log"
fi
finish
