#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# vm-ground: the ground the vm-migrate tests stand on, checked on both
# hosts (run it as both hosts' script):
#   tests/xenhost/run.sh --hosts 2 --overlay build/dom0-root \
#       --test tests/xenhost/tests/vm-ground.sh \
#       --test2 tests/xenhost/tests/vm-ground.sh
# Host 1:
#   pool          start_pool: both xlmigd up, host-list from h1 shows h1, h2
#   local-sr      this host's local SR, in dom0's root, not on the share
#   vdi-guest     a guest on a VDI of the local SR (vdi_guest) reads its
#                 marker, ticks every ~100 ms, its disk holds its last write
#   cpu-level     vm-cpu-check host=h2 passes for it (POOL_CPUID)
#                 and refuses a guest with the host's whole CPU
#   big-guest     big_vdi_guest: more memory than h2 has free, boots on h1
#   clock-skew    the hosts' clocks agree to within 0.1 s
#   xl-downtime   plain xl migrate to h2 (disk on the share): downtime from
#                 the guest's uptime and from xenconsoled's timestamps
#   solo-pools    two pools of one host each; remote-h2.conf reaches h2's
#   restart       kill -9 of the master's xlmigd, restart_xlmigd, h2 back
# Host 2: pool, local-sr, receive (the xl migration and its guest).
. /xenhost/lib.sh

fail_dump() { dump_xlmigd 20; }

if [ "$HOST" = 1 ]; then
    plan pool local-sr vdi-guest cpu-level big-guest clock-skew xl-downtime \
        solo-pools restart
else
    plan pool local-sr receive
fi

# ---- the pool
t=$(uptime_s)
if start_pool joint && wait_pool_hosts 2 600; then
    hosts=$(xlmig-xe host-list params=name-label --minimal | tr '\n' ',' | sed 's/,*$//')
    case ,$hosts, in
        *,h1,*) case ,$hosts, in *,h2,*) ok=1 ;; *) ok=0 ;; esac ;;
        *) ok=0 ;;
    esac
    if [ $ok = 1 ]; then
        result pool OK "(host-list: $hosts; up after $(elapsed "$t")s, $POOL_AUTH)"
    else
        result pool FAIL "host-list says '$hosts'"
    fi
else
    result pool FAIL "the pool did not form"
    fail_dump
fi
show cat "$XLMIG_ETC/xlmigd.conf"

# ---- the local SR
path=$(xlmig-xe sr-list uuid="$LOCAL_SR" params=path --minimal)
fs=$(stat -f -c %T "$path" 2>/dev/null)
rendezvous local-sr
peer_local_sr > /dev/null
if [ -n "$LOCAL_SR" ] && [ "$path" = "$LOCAL_SR_PATH" ] && [ -d "$path" ] &&
    [ "$fs" != v9fs ] && [ -n "$PEER_SR" ] && [ "$PEER_SR" != "$LOCAL_SR" ]; then
    result local-sr OK "($LOCAL_SR_NAME $LOCAL_SR at $path on $fs; h$PEER's is $PEER_SR)"
else
    result local-sr FAIL "SR '$LOCAL_SR' at '$path' ($fs), peer's '$PEER_SR'"
fi
cpu_records || say "cpu_records failed"

if [ "$HOST" = 2 ]; then
    # The receiving end of host 1's xl migrate, as tests/receiver.sh.
    mkdir -p "$H2_CONSOLE"
    ( timeout 2400 socat "TCP-LISTEN:$MIGRATE_PORT,reuseaddr" \
        EXEC:"xl migrate-receive -e"; echo $? > /tmp/receive.rc ) &
    n=0
    while ! ss -Hltn | grep -q ":$MIGRATE_PORT\b" && [ $n -lt 30 ]; do
        sleep 1; n=$((n + 1))
    done
    touch "$SHARED/.h2-ready"
    (
        while [ ! -e "$SHARED/.host1-exit" ]; do
            if [ -f "$SHARED/h2-destroy" ]; then
                name=$(cat "$SHARED/h2-destroy")
                rm -f "$SHARED/h2-destroy"
                xl destroy "$name"
                sleep 1
                mirror_consoles final
                touch "$SHARED/h2-destroyed"
            fi
            sleep 1
        done
    ) &
    rendezvous solo 2400 && start_pool solo &&
        say "solo: host-list $(xlmig-xe host-list params=name-label --minimal)"
    rendezvous solo-up
    rendezvous joint && start_pool joint
    rendezvous joint-up
    wait_file "$SHARED/.host1-exit" 2400
    rc=$(cat /tmp/receive.rc 2>/dev/null)
    if [ "$rc" = 0 ]; then
        result receive OK "(xl migrate-receive exit 0)"
    else
        result receive FAIL "xl migrate-receive exit '$rc'"
    fi
    stop_xlmigd
    exit 0
fi

# ---- host 1: a guest on a local VDI, at the pool's CPU level
say "STEP vdi-guest"
if vdi_guest gv; then
    v=$GUEST_VDI f=$GUEST_VDI_FILE
    t0=$(guest_tick gv)
    wait_tick gv $((t0 + 20 * TICK_HZ)) 120
    period=$(tick_period gv)
    show xlmig-xe vdi-list uuid="$v" params=uuid,sr-uuid,vbds
    xlmig-xe vm-cpu-check vm=gv host=h2 > /tmp/cc.out 2>&1
    cc=$?
    sed 's/^/### | /' /tmp/cc.out
    # stop it, then its disk must hold the last tick it wrote
    xl destroy gv
    wrote=$(guest_wrote gv)
    dtick=$(disk_tick "$f")
    say "gv: $period; last written $wrote, disk TICK-$dtick"
    median=$(echo "$period" | sed -n 's/period \([0-9.]*\) s median.*/\1/p')
    if [ -n "$dtick" ] && [ -n "$wrote" ] && [ "$dtick" -ge "$wrote" ] &&
        awk -v m="$median" 'BEGIN { exit !(m != "" && m < 0.5) }'; then
        result vdi-guest OK "(VDI $v; $period; written up to $wrote, disk TICK-$dtick)"
    else
        result vdi-guest FAIL "$period; written $wrote, disk TICK-$dtick"
    fi
    vdi_guest_destroy gv
else
    result vdi-guest FAIL "vdi_guest gv failed"
    cc=1
fi

say "STEP cpu-level: a guest with the host's whole CPU"
if vdi_guest gu 128 ""; then
    xlmig-xe vm-cpu-check vm=gu host=h2 > /tmp/cu.out 2>&1
    cu=$?
    sed 's/^/### | /' /tmp/cu.out
    vdi_guest_destroy gu
else
    cu=x
fi
if [ "$cc" = 0 ] && [ "$cu" = 1 ] && grep -q 'lahf_lm' /tmp/cu.out; then
    result cpu-level OK "(cpuid $POOL_CPUID passes for h2; the whole CPU: $(grep -o 'VM_INC[^(]*' /tmp/cu.out | head -n 1))"
else
    result cpu-level FAIL "vm-cpu-check host=h2: levelled exit $cc, whole CPU exit $cu"
fi

say "STEP big-guest"
t=$(uptime_s)
if big_vdi_guest gb; then
    result big-guest OK "($BIG_MEM MiB; h2 has $(peer_fact free_memory) MiB free; ticking after $(elapsed "$t")s)"
    vdi_guest_destroy gb
else
    result big-guest FAIL "big_vdi_guest failed"
    vdi_guest_destroy gb
fi

say "STEP clock-skew"
clock_skew > /tmp/skew.out
skew=$(cat /tmp/skew.out)
if [ -n "$CLOCK_SKEW" ] && awk -v s="$CLOCK_SKEW" 'BEGIN { exit !(s < 0.1 && s > -0.1) }'; then
    result clock-skew OK "(h2 - h1: $skew)"
else
    result clock-skew FAIL "h2 - h1: $skew"
fi

say "STEP xl-downtime: plain xl migrate to h2, disk on the share"
# ts_of NAME TICK [DIR]: xenconsoled's time (seconds of the day) of a tick.
ts_of() {
    guest_log "$1" "$3" | awk -v n="$2" '$3 == "GUEST-TICK" && $4 == n {
        split(substr($2, 1, 8), t, ":"); print t[1] * 3600 + t[2] * 60 + t[3]; exit }'
}
if start_guest gm "$SHARED/gm.qcow2"; then
    wait_tick gm $((5 * TICK_HZ)) 120
    if remote_migrate gm "$SHARED/gm.qcow2"; then
        # The same switch by xenconsoled's timestamps (whole seconds).
        set -- $(echo "$REMOTE_DOWNTIME" | sed -n 's/.*ticks \([0-9]*\)-\([0-9]*\).*/\1 \2/p')
        a=$(ts_of gm "$1"); [ -n "$a" ] || a=$(ts_of gm "$1" "$H2_CONSOLE")
        b=$(ts_of gm "$2" "$H2_CONSOLE")
        result xl-downtime OK "($REMOTE_DOWNTIME; by xenconsoled's timestamps $((b - a)) s; clocks h2 - h1 $skew)"
    else
        result xl-downtime FAIL "$REMOTE_DETAIL"
    fi
else
    result xl-downtime FAIL "guest gm did not start"
fi

say "STEP solo-pools"
rendezvous solo
if start_pool solo && rendezvous solo-up; then
    mine=$(xlmig-xe host-list params=name-label --minimal | tr '\n' ' ')
    theirs=$(xlmig-xe host-list config="$REMOTE_CONF" params=name-label --minimal 2>/tmp/r.err | tr '\n' ' ')
    # h1's own pool's credentials are not h2's pool's
    sed "s/^master = .*/master = 10.77.0.2:$POOL_PORT/" "$XLMIG_ETC/solo.conf" > /tmp/wrong.conf
    xlmig-xe host-list config=/tmp/wrong.conf > /dev/null 2> /tmp/wrong.err
    wrong=$?
    sed 's/^/### | /' /tmp/r.err /tmp/wrong.err
    if [ "$mine" = "h1 " ] && [ "$theirs" = "h2 " ] && [ "$wrong" != 0 ]; then
        result solo-pools OK "(h1's pool: $mine; through $REMOTE_CONF: $theirs; h1's own credentials refused: $(head -n 1 /tmp/wrong.err | cut -c1-100))"
    else
        result solo-pools FAIL "h1's pool '$mine', through $REMOTE_CONF '$theirs', wrong credentials exit $wrong"
    fi
else
    result solo-pools FAIL "start_pool solo failed"
    fail_dump
fi
rendezvous joint
start_pool joint && rendezvous joint-up && wait_pool_hosts 2 120 ||
    say "back to the joint pool failed"

say "STEP restart: kill -9 of the master's xlmigd"
kill_xlmigd
if xlmigd_running; then
    result restart FAIL "xlmigd survived kill -9"
else
    t=$(uptime_s)
    if restart_xlmigd && wait_pool_hosts 2 120; then
        back=$(elapsed "$t")
        if stop_xlmigd && grep -q stopped "$XLMIGD_LOG"; then
            result restart OK "(restarted, h2 back in ${back}s; stopped clean)"
        else
            result restart FAIL "did not stop on SIGTERM"
        fi
    else
        result restart FAIL "restart_xlmigd: the pool did not come back"
        fail_dump
    fi
fi
dump_xlmigd 10
