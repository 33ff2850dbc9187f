#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# vm-migrate on two real (nested) Xen hosts, each with a local SR of its
# own, both running xlmigd (lib.sh's pool helpers).  Run as both hosts'
# script; host 1 drives, host 2 serves and answers host 1's requests
# through the share (h2_do below).
#   tests/xenhost/run.sh --hosts 2 --overlay build/dom0-root \
#       --test tests/xenhost/tests/vm-migrate.sh \
#       --test2 tests/xenhost/tests/vm-migrate.sh
# Host 1's results (VMM_ONLY=a,b picks some; the guests tick every 100 ms
# to their console and to their disk):
#   vmm-pool        a running guest on h1's local SR moves to h2 and h2's SR
#                   (compress=true): it ticks on; after, it runs only on h2,
#                   its disk is one VDI in h2's SR holding its last tick, the
#                   source VDI is gone, nothing else is left; the downtime
#                   (largest tick gap) and total time
#   vmm-xpool       the same with h1 and h2 two pools of one host each
#                   (remote-master, remote-config)
#   vmm-halted      a halted VM moved cold; vm-start boots it on h2
#   vmm-copy        copy=true: the halted VM stays whole on h1
#   vmm-cancel-storage, vmm-cancel-memory   task-cancel in each phase
#   vmm-kill-src    kill -9 of h1's xlmigd during storage, then its restart
#   vmm-kill-dst    kill -9 of h2's xlmigd during memory, then its restart
#                   (each time the guest ticks on at h1 on an intact disk
#                   and nothing is left on h2)
#   vmm-crash       the guest destroyed (xl destroy) during memory: the
#                   migration fails at once with VM_BAD_POWER_STATE, its
#                   worker rolls back without crashing, the disk at h1
#                   holds the last tick written, nothing left anywhere
#   vmm-refuse      a guest with h1's whole CPU and more memory than h2 has
#                   free: vm-assert-can-migrate reports both at once
#   vmm-limit       four migrations at once with migration-concurrency=3:
#                   task-list shows three running and one queued; all finish
#   vmm-evacuate    host-evacuate of h1 (migration-concurrency=2): three
#                   guests can go, one with h1's whole CPU cannot;
#                   host-get-vms-which-prevent-evacuation names that one,
#                   the evacuation without skip-unmovable=true is refused
#                   with nothing moved, with it the three go to h2 (two
#                   running, one queued), ticking, and h1 stays disabled
#   vmm-wlb         a wlb-hook ranking h2 first: the recommendations show
#                   it, vm-migrate without host= follows it; a hook that
#                   hangs past wlb-hook-timeout: the built-in choice, said
#   vmm-rolling     a rolling pool upgrade over both hosts, a guest ticking
#                   on through two evacuations (vmm-rolling.sh; run last)
. /xenhost/lib.sh

want() { [ -z "${VMM_ONLY:-}" ] || case ,$VMM_ONLY, in *,$1,*) return 0 ;; *) return 1 ;; esac; }
REQ=$SHARED/.vmm-req
ANS=$SHARED/.vmm-ans

# ---------------------------------------------------------------- host 2

# h2_facts: what host 2 has, one "key=value" a line.
h2_facts() {
    echo "domains=$(xl list | awk 'NR > 2 { print $1 }' | tr '\n' ' ')"
    echo "vdis=$(ls "$LOCAL_SR_PATH" 2>/dev/null | grep -c '\.json$')"
    echo "sxm=$(ls "$XLMIG_STATE"/sxm/*.json 2>/dev/null | wc -l)"
    echo "journals=$(grep -l '"state": "running"' "$XLMIG_STATE"/migrate-in/*.json 2>/dev/null | wc -l)"
    echo "workers=$(pgrep -f 'xlmigd --worker' | wc -l)"
    echo "exporters=$(pgrep -f qemu-storage-daemon | wc -l)"
}

# h2_serve: answer host 1's requests until it has ended.
h2_serve() {
    while [ ! -e "$SHARED/.host1-exit" ]; do
        if [ -f "$REQ" ]; then
            set -- $(cat "$REQ")
            rm -f "$REQ"
            say "host 1 asks: $*"
            case $1 in
                facts) h2_facts ;;
                check)      # NAME: stop it, then its disk's last tick
                    xl destroy "$2" 2>/dev/null
                    sleep 1
                    mirror_consoles check
                    v=$(xlmig-xe vbd-list vm="$2" params=vdi-uuid --minimal 2>/dev/null | cut -d, -f1)
                    echo "vdi=$v"
                    echo "disk_tick=$(disk_tick "$LOCAL_SR_PATH/$v.qcow2")"
                    h2_facts ;;
                clean)      # every guest and VDI of the local SR
                    for dom in $(xl list | awk 'NR > 2 { print $1 }'); do
                        vdi_guest_destroy "$dom"
                    done
                    for v in $(ls "$LOCAL_SR_PATH" | sed -n 's/\.json$//p'); do
                        for vm in $(xlmig-xe vbd-list vdi-uuid="$v" params=vm --minimal 2>/dev/null | tr ',' ' '); do
                            xlmig-xe vbd-destroy vm="$vm" vdi-uuid="$v"
                        done
                        xlmig-xe vdi-destroy uuid="$v"
                    done
                    rm -f "$XLMIG_STATE"/vm/*.json
                    h2_facts ;;
                log) tail -n 40 "$XLMIG_STATE/migrate-in/$2.log" 2>&1 ;;
                qemu-log)       # NAME: its device models' logs (an
                                # incoming domain's is NAME--incoming's)
                    for f in /var/log/xen/qemu-dm-"$2".log /var/log/xen/qemu-dm-"$2"--*.log; do
                        [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }
                    done 2>&1 ;;
                kill-xlmigd) kill_xlmigd; echo "rc=$?" ;;
                restart-xlmigd) restart_xlmigd; echo "rc=$?" ;;
                pool) start_pool "$2"; echo "rc=$?" ;;
                xl-receive)     # one `xl migrate-receive` (lib.sh's remote_migrate)
                    rm -f "$SHARED/.h2-ready"
                    (timeout 900 socat "TCP-LISTEN:$MIGRATE_PORT,reuseaddr" \
                        EXEC:"xl migrate-receive -e" > /tmp/xl-receive.out 2>&1) &
                    n=0
                    while ! ss -Hltn | grep -q ":$MIGRATE_PORT\b" && [ $n -lt 30 ]; do
                        sleep 1; n=$((n + 1))
                    done
                    touch "$SHARED/.h2-ready"
                    echo "rc=0" ;;
                *) echo "unknown=$1" ;;
            esac > "$ANS.tmp" 2>&1
            mv -f "$ANS.tmp" "$ANS"
        fi
        # remote_migrate's request to stop a guest it moved here.
        if [ -f "$SHARED/h2-destroy" ]; then
            xl destroy "$(cat "$SHARED/h2-destroy")" 2>/dev/null
            rm -f "$SHARED/h2-destroy"
            sleep 1
            mirror_consoles destroy
            touch "$SHARED/h2-destroyed"
        fi
        sleep 0.5
    done
}

# h2_do REQUEST [TIMEOUT]: have host 2 do REQUEST; its answer in H2 (lines
# key=value) and on stdout.
h2_do() {
    rm -f "$ANS"
    echo "$1" > "$REQ.tmp" && mv -f "$REQ.tmp" "$REQ"
    if ! wait_file "$ANS" "${2:-300}"; then
        H2="timeout"
        return 1
    fi
    H2=$(cat "$ANS")
    rm -f "$ANS"
    echo "$H2"
}
h2_get() { echo "$H2" | sed -n "s/^$1=//p"; }

if [ "$HOST" = 2 ]; then
    plan vmm-serve
    if start_pool joint; then
        mkdir -p "$H2_CONSOLE"
        h2_serve
        result vmm-serve OK "(answered host 1 until it ended)"
    else
        result vmm-serve FAIL "the pool did not start here"
        dump_xlmigd 30
    fi
    exit 0
fi

# ---------------------------------------------------------------- host 1

# The guests' memory (MiB): small, so that the log-dirty phase under
# nested TCG stays short (a long one now and then triple-faults a guest),
# but more than the 58 MiB of the guest's kernel.
VMM_MB=${VMM_MB:-96}
ALL="vmm-pool vmm-xpool vmm-halted vmm-copy vmm-cancel-storage vmm-cancel-memory vmm-kill-src vmm-kill-dst vmm-crash vmm-refuse vmm-limit vmm-evacuate vmm-wlb vmm-rolling"
PLANNED=""
for n in $ALL; do want "${n#vmm-}" && PLANNED="$PLANNED $n"; done
case ,${VMM_ONLY:-}, in *,bench,*) PLANNED="$PLANNED vmm-bench-true vmm-bench-false vmm-bench" ;; esac
plan $PLANNED

if ! start_pool joint || ! wait_pool_hosts 2 900; then
    for n in $PLANNED; do result "$n" FAIL "the pool did not form"; done
    dump_xlmigd 30
    exit 0
fi
peer_local_sr > /dev/null
say "pool: $(xlmig-xe host-list params=name-label --minimal); h2's SR $PEER_SR"
if [ -n "${VMM_DEMO:-}" ]; then
    say "==== STEP 1/4: two Xen hosts, one pool (xlmigd on each, TLS between them)"
    show xl info | grep -E '^### \| (host|xen_version|nr_cpus|free_memory) '
    show xlmig-xe host-list params=name-label,address,master
    show xlmig-xe sr-list params=uuid,name-label
fi

# h1_left: what host 1 has beyond its guests' VDIs: sxm records, overlays,
# running journals, workers.
h1_left() {
    _hl=""
    [ -z "$(ls "$XLMIG_STATE"/sxm/*.json 2>/dev/null)" ] || _hl="$_hl sxm-records"
    [ -z "$(ls "$LOCAL_SR_PATH"/*.overlay.qcow2 2>/dev/null)" ] || _hl="$_hl overlay"
    grep -ql '"state": "running"' "$XLMIG_STATE"/migrate/*.json 2>/dev/null && _hl="$_hl running-journal"
    pgrep -f 'xlmigd --worker' > /dev/null && _hl="$_hl workers"
    echo "$_hl"
}

# h2_empty: host 2 has no guest, VDI, storage move, journal or worker.
h2_empty() {
    h2_do facts > /dev/null &&
        [ -z "$(h2_get domains | tr -d ' ')" ] && [ "$(h2_get vdis)" = 0 ] &&
        [ "$(h2_get sxm)" = 0 ] && [ "$(h2_get journals)" = 0 ] &&
        [ "$(h2_get workers)" = 0 ]
}

# migrate_bg NAME ARGS...: vm-migrate in the background (its output in
# /tmp/mig-NAME.out and .err); MPID, and TASK once it printed it.
migrate_bg() {
    _mb=$1
    shift
    xlmig-xe vm-migrate vm="$_mb" host=h2 "$@" > "/tmp/mig-$_mb.out" 2> "/tmp/mig-$_mb.err" &
    MPID=$!
    MIG_ERR=/tmp/mig-$_mb.err
    TASK=""
    clock; _mb_end=$((NOW + 60))
    while [ -z "$TASK" ] && clock && [ "$NOW" -lt "$_mb_end" ]; do
        [ ! -s "/tmp/mig-$_mb.out" ] || read -r TASK < "/tmp/mig-$_mb.out"
        [ -n "$TASK" ] || sleep 0.2
    done
}

# phase_is PHASE [TIMEOUT]: the source journal of TASK is in PHASE;
# every 60 s while it waits, the migration's last progress line.  False
# at once when the task has ended (it failed, or went past PHASE).
phase_is() {
    clock; _pi_end=$((NOW + ${2:-120})) _pi_said=$NOW
    while clock; [ "$NOW" -lt "$_pi_end" ]; do
        grep -q "\"phase\": \"$1\"" "$XLMIG_STATE/migrate/$TASK.json" 2>/dev/null && return 0
        if grep -q '"phase": "ended"' "$XLMIG_STATE/migrate/$TASK.json" 2>/dev/null; then
            say "task $TASK ended before it was in $1: $(grep -v '^vm-migrate:' "$MIG_ERR" 2>/dev/null | head -n 1)"
            return 1
        fi
        if [ $((NOW - _pi_said)) -ge 60 ]; then
            say "waiting for task $TASK to be in $1: $(tr '\r' '\n' < "$MIG_ERR" 2>/dev/null | grep . | tail -n 1)"
            _pi_said=$NOW
        fi
        sleep 0.5
    done
    return 1
}

# intact_on_h1 NAME: the guest ticks on at h1 and its disk takes its
# writes (2 s more ticks, a written tick past the one before, no reboot),
# and neither host has anything of a migration left.  Sets WHY and
# RUN_DETAIL; the guest runs on.
intact_on_h1() {
    WHY=""
    _ri_t=$(guest_tick "$1")
    xl domid "$1" > /dev/null 2>&1 || WHY="$WHY not-on-h1"
    wait_tick "$1" $((_ri_t + 2 * TICK_HZ)) 120 || WHY="$WHY no-ticks"
    wait_wrote "$1" $((_ri_t + TICK_HZ)) 120 || WHY="$WHY nothing-written"
    [ "$(guest_boots "$1")" = 1 ] || WHY="$WHY rebooted"
    [ -z "$(h1_left)" ] || WHY="$WHY left-on-h1:$(h1_left)"
    h2_empty || WHY="$WHY left-on-h2:$(echo "$H2" | tr '\n' ' ')"
    RUN_DETAIL="ticks $_ri_t -> $(guest_tick "$1") at h1"
    [ -z "$WHY" ]
}

# disk_intact NAME: the guest stopped, its disk (its own VDI on h1) holds
# its last written tick.  Appends to WHY and RUN_DETAIL; the VDI goes.
disk_intact() {
    _di_w=$(guest_wrote "$1")
    xl destroy "$1" 2>/dev/null
    _di_d=$(disk_tick "$GUEST_VDI_FILE")
    RUN_DETAIL="$RUN_DETAIL, disk TICK-$_di_d (last written $_di_w)"
    vdi_guest_destroy "$1"
    [ -n "$_di_d" ] && [ "$_di_d" -ge "${_di_w:-999999999}" ] && return 0
    WHY="$WHY disk-says-$_di_d-wrote-$_di_w"
    return 1
}

# moved_to_h2 NAME T0 TOOK: the guest ticks on h2 only, its disk a VDI of
# h2's SR holding its last tick, the source VDI gone, nothing else left.
moved_to_h2() {
    WHY=""
    _mv_h1=$(guest_tick "$1")
    xl domid "$1" > /dev/null 2>&1 && WHY="$WHY still-on-h1"
    wait_tick "$1" $((_mv_h1 + 2 * TICK_HZ)) 180 "$PEER_CONSOLE" || WHY="$WHY no-ticks-on-h2"
    wait_wrote "$1" $((_mv_h1 + TICK_HZ)) 180 "$PEER_CONSOLE" || WHY="$WHY nothing-written-on-h2"
    [ ! -e "$GUEST_VDI_FILE" ] || WHY="$WHY source-vdi-left"
    [ -z "$(h1_left)" ] || WHY="$WHY left-on-h1:$(h1_left)"
    h2_do "check $1" > /dev/null
    _mv_last=$(guest_tick "$1" "$PEER_CONSOLE")
    _mv_wrote=$(guest_wrote "$1" "$PEER_CONSOLE")
    _mv_disk=$(h2_get disk_tick)
    [ "$(h2_get vdis)" = 1 ] || WHY="$WHY vdis-on-h2:$(h2_get vdis)"
    [ "$(h2_get sxm)$(h2_get journals)$(h2_get workers)" = 000 ] || WHY="$WHY left-on-h2:$(echo "$H2" | tr '\n' ' ')"
    [ -n "$_mv_disk" ] && [ "$_mv_disk" -ge "${_mv_wrote:-999999999}" ] || WHY="$WHY disk-says-$_mv_disk-wrote-$_mv_wrote"
    [ "$(guest_boots "$1" "$PEER_CONSOLE")" = 0 ] || WHY="$WHY rebooted"
    downtime "$1" "$2" "$3" > /dev/null
    MOVE_DETAIL="ticks $2 -> $_mv_last, on h2 disk TICK-$_mv_disk; $DOWNTIME_TEXT"
    h2_do clean > /dev/null
    [ -z "$WHY" ]
}

# task_logs TASK: the tails of the task's logs on both hosts.
task_logs() {
    say "---- the source's log of task $1"
    tail -n 40 "$XLMIG_STATE/migrate/$1.log" 2>&1 | sed 's/^/### | /'
    say "---- the destination's log of task $1"
    h2_do "log $1" | sed 's/^/### | /'
}

# retry_tf CASE TRY CLEAN: TRY (which sets CASE_DETAIL and says 0 or 1),
# and the result.  When a guest triple-faulted during a failed try (the
# nested-TCG flake that run.sh knows too, seen in log-dirty phases and
# in stalled block I/O alike), CLEAN and TRY again, up to VMM_TF_TRIES
# tries in all (3); a failure without a triple fault is the result.  The
# detail says how many tries it took and why.
retry_tf() {
    _rt_n=1 _rt_why=""
    while :; do
        _rt_tf=$(triple_faults)
        if "$2"; then
            if [ "$_rt_n" = 1 ]; then
                result "$1" OK "($CASE_DETAIL)"
            else
                result "$1" OK "($CASE_DETAIL; try $_rt_n: the earlier ones ended in a guest's triple fault:$_rt_why)"
            fi
            return 0
        fi
        [ "$(triple_faults)" -gt "$_rt_tf" ] || break
        [ "$_rt_n" -lt "${VMM_TF_TRIES:-3}" ] || break
        _rt_why="$_rt_why [$_rt_n] $CASE_DETAIL"
        say "$1: a guest triple-faulted (nested TCG) during try $_rt_n: once more"
        "$3"
        _rt_n=$((_rt_n + 1))
    done
    [ -z "$_rt_why" ] || _rt_why=" (earlier tries ended in a guest's triple fault:$_rt_why)"
    result "$1" FAIL "$CASE_DETAIL$_rt_why"
    return 1
}

# demo_say TEXT: a step of `make demo`'s narration (VMM_DEMO set).
demo_say() { [ -z "${VMM_DEMO:-}" ] || say "$*"; }
# xl_list_h2: host 2's domains, as it tells them.
xl_list_h2() { h2_do facts > /dev/null; echo "domains on h2: $(h2_get domains)"; }

# ---- within the pool, with storage
pool_try() {
    say "STEP vmm-pool: vm-migrate with its disk to h2's SR, compressed"
    demo_say "==== STEP 2/4: start guest vmm1 on h1, its disk a VDI of h1's local SR"
    if ! vdi_guest vmm1 "$VMM_MB"; then
        CASE_DETAIL="the guest did not start"
        return 1
    fi
    if [ -n "${VMM_DEMO:-}" ]; then
        show xlmig-xe vm-list
        show xlmig-xe vdi-list sr-uuid="$LOCAL_SR" params=uuid,name-label,virtual-size
        demo_say "==== STEP 3/4: xlmig-xe vm-migrate vm=vmm1 host=h2 vdi:$GUEST_VDI=$PEER_SR compress=true"
        demo_say "(the guest keeps ticking on h1 while its disk and memory move; its ticks come from h2 after the switch)"
        watch_ticks vmm1 &
        watch1=$!
        watch_ticks vmm1 "$PEER_CONSOLE" &
        watch2=$!
    fi
    t0=$(guest_tick vmm1)
    t=$(uptime_s)
    if [ -n "${VMM_DEMO:-}" ]; then
        show_live xlmig-xe vm-migrate vm=vmm1 host=h2 vdi:"$GUEST_VDI"="$PEER_SR" compress=true
    else
        show xlmig-xe vm-migrate vm=vmm1 host=h2 vdi:"$GUEST_VDI"="$PEER_SR" compress=true
    fi
    rc=$?
    took=$(elapsed "$t")
    [ -z "${VMM_DEMO:-}" ] || { sleep 3; kill $watch1 $watch2 2>/dev/null; }
    demo_say "==== STEP 4/4: where the guest runs now"
    [ -z "${VMM_DEMO:-}" ] || { say "h1:"; show xl list; say "h2:"; show xl_list_h2; }
    if [ $rc = 0 ] && moved_to_h2 vmm1 "$t0" "$took"; then
        # The source's account of the switch, step by step.
        grep -h "moved to" "$XLMIG_STATE"/migrate/*.log 2>/dev/null | tail -n 1 | sed 's/^/### | /'
        CASE_DETAIL=$MOVE_DETAIL
        demo_say "DEMO SUCCESS: vmm1 moved live with its disk from h1 to h2: $DOWNTIME_TEXT"
        return 0
    fi
    CASE_DETAIL="exit $rc:$WHY; $MOVE_DETAIL"
    dump_guest vmm1
    task_logs "$(ls -t "$XLMIG_STATE"/migrate/*.json | head -n 1 | sed 's#.*/##; s#\.json##')"
    return 1
}
pool_clean() {
    xl destroy vmm1 2>/dev/null
    vdi_guest_destroy vmm1
    h2_do clean > /dev/null
}
if want pool; then
    retry_tf vmm-pool pool_try pool_clean
    h2_do clean > /dev/null
fi

# ---- across pools: two pools of one host each
if want xpool; then
    say "STEP vmm-xpool: h1 and h2 two pools; vm-migrate with remote-master"
    if start_pool solo && h2_do "pool solo" > /dev/null && [ "$(h2_get rc)" = 0 ] &&
        vdi_guest vmm2 "$VMM_MB"; then
        t0=$(guest_tick vmm2)
        t=$(uptime_s)
        show xlmig-xe vm-migrate vm=vmm2 host=h2 vdi:"$GUEST_VDI"="$PEER_SR" \
            remote-master=10.77.0.2:$POOL_PORT remote-config="$REMOTE_CONF" compress=true
        rc=$?
        took=$(elapsed "$t")
        if [ $rc = 0 ] && moved_to_h2 vmm2 "$t0" "$took"; then
            result vmm-xpool OK "(pools $(_conf_get "$XLMIG_ETC/solo.conf" pool-name) -> $(_conf_get "$REMOTE_CONF" pool-name); $MOVE_DETAIL)"
        else
            result vmm-xpool FAIL "exit $rc:$WHY; $MOVE_DETAIL"
            dump_guest vmm2
        fi
    else
        result vmm-xpool FAIL "two pools and a guest could not be set up ($(echo "$H2" | tr '\n' ' '))"
    fi
    vdi_guest_destroy vmm2
    h2_do clean > /dev/null
    start_pool joint > /dev/null
    h2_do "pool joint" > /dev/null
    wait_pool_hosts 2 300 || say "the joint pool did not come back"
fi

# ---- halted VMs: cold, and a copy
# halted NAME: a guest on a local VDI made halted: its configuration
# recorded (vm-register) while it runs, then destroyed.
halted() {
    vdi_guest "$1" "$VMM_MB" || return 1
    xlmig-xe vm-register vm="$1" || return 1
    xl destroy "$1"
    xlmig-xe vm-list params=name-label,power-state --minimal | grep -q "$1,halted"
}
if want halted; then
    say "STEP vmm-halted: a halted VM moved cold, started on h2"
    if halted cold1; then
        show xlmig-xe vm-migrate vm=cold1 host=h2 vdi:"$GUEST_VDI"="$PEER_SR"
        rc=$?
        WHY=""
        [ ! -e "$GUEST_VDI_FILE" ] || WHY="$WHY source-vdi-left"
        xlmig-xe vm-list params=name-label,resident-on,power-state --minimal > /tmp/vl.out
        grep -q "cold1,h2,halted" /tmp/vl.out || WHY="$WHY not-halted-on-h2:$(cat /tmp/vl.out)"
        show xlmig-xe vm-start vm=cold1 || WHY="$WHY vm-start-failed"
        wait_tick cold1 1 300 "$PEER_CONSOLE" || WHY="$WHY no-ticks-on-h2"
        guest_log cold1 "$PEER_CONSOLE" | grep -aq "GUEST-DISK-READ: HELLO-FROM-VDI-$GUEST_VDI" ||
            WHY="$WHY did-not-read-its-disk"
        [ -z "$(h1_left)" ] || WHY="$WHY left-on-h1:$(h1_left)"
        if [ $rc = 0 ] && [ -z "$WHY" ]; then
            result vmm-halted OK "(moved cold; vm-start booted it on h2 from the new VDI, which holds its marker)"
        else
            result vmm-halted FAIL "exit $rc:$WHY"
        fi
    else
        result vmm-halted FAIL "could not make a halted VM"
    fi
    h2_do clean > /dev/null
fi
if want copy; then
    say "STEP vmm-copy: copy=true of a halted VM"
    if halted cold2; then
        show xlmig-xe vm-migrate vm=cold2 host=h2 vdi:"$GUEST_VDI"="$PEER_SR" copy=true
        rc=$?
        WHY=""
        [ -e "$GUEST_VDI_FILE" ] || WHY="$WHY source-vdi-gone"
        xlmig-xe vm-list params=name-label,resident-on,power-state --minimal > /tmp/vl.out
        grep -q "cold2,h1,halted" /tmp/vl.out || WHY="$WHY source-vm-gone"
        grep -q "cold2,h2,halted" /tmp/vl.out || WHY="$WHY no-copy-on-h2"
        [ "$(disk_tick "$GUEST_VDI_FILE")" != "" ] || WHY="$WHY source-disk-unreadable"
        if [ $rc = 0 ] && [ -z "$WHY" ]; then
            result vmm-copy OK "(h1 keeps cold2 and its disk; h2 has a copy: $(tr '\n' ' ' < /tmp/vl.out))"
        else
            result vmm-copy FAIL "exit $rc:$WHY"
        fi
    else
        result vmm-copy FAIL "could not make a halted VM"
    fi
    vdi_guest_destroy cold2
    rm -f "$XLMIG_STATE"/vm/*.json
    h2_do clean > /dev/null
fi

# ---- cancels and kills: the guest ticks on at h1, nothing left on h2
# One guest for them all (it stays at h1 each time); its disk is read
# after the last one.
# fault NAME PHASE ACTION...: a slowed migration of the guest to h2 in
# the background, ACTION once it is in PHASE; then the checks.
FAULT_VM=vmmf
FAULTS=""
for n in cancel-storage cancel-memory kill-src kill-dst; do
    want "$n" && FAULTS="$FAULTS $n"
done
LAST_FAULT=${FAULTS##* }
fault_try() {
    say "STEP $_f: $_fa during $_fp"
    if ! xl domid "$FAULT_VM" > /dev/null 2>&1 && ! vdi_guest "$FAULT_VM" "$VMM_MB"; then
        CASE_DETAIL="the guest did not start"
        return 1
    fi
    # The link is slow enough; the cap keeps each phase long enough to act.
    migrate_bg "$FAULT_VM" vdi:"$GUEST_VDI"="$PEER_SR" bwlimit=1M compress=false
    if [ -z "$TASK" ] || ! phase_is "$_fp" 300; then
        CASE_DETAIL="never in phase $_fp (task '$TASK')"
        kill "$MPID" 2>/dev/null
        sed 's/^/### | /' "/tmp/mig-$FAULT_VM.err" | tail -n 5
        [ -z "$TASK" ] || task_logs "$TASK"
        dump_guest "$FAULT_VM"
        [ -z "$TASK" ] || xlmig-xe task-cancel uuid="$TASK" 2>/dev/null
        wait "$MPID"
        fault_clean
        return 1
    fi
    sleep 2
    $_fa
    wait "$MPID"
    rc=$?
    sed 's/^/### | /' "/tmp/mig-$FAULT_VM.err" | tail -n 4
    sleep 3
    ok=0
    [ $rc != 0 ] && intact_on_h1 "$FAULT_VM" && ok=1
    if [ "vmm-$LAST_FAULT" = "$_f" ]; then
        disk_intact "$FAULT_VM" || ok=0
    fi
    if [ $ok = 1 ]; then
        CASE_DETAIL="vm-migrate exit $rc: $(grep -v '^vm-migrate:' "/tmp/mig-$FAULT_VM.err" | head -n 1 | cut -c1-100); $RUN_DETAIL; nothing left on h2"
        h2_do clean > /dev/null
        return 0
    fi
    CASE_DETAIL="exit $rc:$WHY"
    dump_guest "$FAULT_VM"
    [ -z "$TASK" ] || task_logs "$TASK"
    return 1
}
fault_clean() {
    xl destroy "$FAULT_VM" 2>/dev/null
    vdi_guest_destroy "$FAULT_VM"
    h2_do clean > /dev/null
}
# fault NAME PHASE ACTION
fault() {
    _f=$1 _fp=$2 _fa=$3
    retry_tf "$_f" fault_try fault_clean || fault_clean
}
cancel_task() { show xlmig-xe task-cancel uuid="$TASK"; }
kill_src() { kill_xlmigd; sleep 2; restart_xlmigd; }
kill_dst() { h2_do kill-xlmigd > /dev/null; sleep 2; h2_do restart-xlmigd > /dev/null; }
want cancel-storage && fault vmm-cancel-storage storage cancel_task
want cancel-memory && fault vmm-cancel-memory memory cancel_task
want kill-src && fault vmm-kill-src storage kill_src
want kill-dst && fault vmm-kill-dst memory kill_dst

# ---- the guest's domain destroyed during memory (libxl's save in
# progress, compressed): the migration ends at once with
# VM_BAD_POWER_STATE, its worker rolls back (no crash), the disk at h1
# holds the last tick written, nothing is left on either host.
CRASH_VM=vmmc
segfaults() { dmesg 2>/dev/null | grep -c 'segfault.* in xlmigd'; }
crash_try() {
    say "STEP vmm-crash: the guest destroyed during memory"
    if ! vdi_guest "$CRASH_VM" "$VMM_MB"; then
        CASE_DETAIL="the guest did not start"
        return 1
    fi
    _cr_seg=$(segfaults)
    migrate_bg "$CRASH_VM" vdi:"$GUEST_VDI"="$PEER_SR" bwlimit=1M compress=true
    if [ -z "$TASK" ] || ! phase_is memory 300; then
        CASE_DETAIL="never in phase memory (task '$TASK')"
        kill "$MPID" 2>/dev/null
        [ -z "$TASK" ] || task_logs "$TASK"
        dump_guest "$CRASH_VM"
        [ -z "$TASK" ] || xlmig-xe task-cancel uuid="$TASK" 2>/dev/null
        wait "$MPID"
        return 1
    fi
    sleep 2
    _cr_w=$(guest_wrote "$CRASH_VM")
    clock; _cr_t0=$NOW
    show xl destroy "$CRASH_VM"
    wait "$MPID"
    rc=$?
    clock; _cr_took=$((NOW - _cr_t0))
    sed 's/^/### | /' "$MIG_ERR" | tail -n 4
    sleep 3
    WHY=""
    [ $rc != 0 ] || WHY="$WHY exit-0"
    grep -q "^VM_BAD_POWER_STATE: migration $TASK of VM $CRASH_VM: its domain [0-9]* " "$MIG_ERR" ||
        WHY="$WHY not-VM_BAD_POWER_STATE"
    [ "$(segfaults)" = "$_cr_seg" ] || WHY="$WHY the-worker-crashed"
    ! xl domid "$CRASH_VM" > /dev/null 2>&1 || WHY="$WHY a-domain-on-h1"
    [ -z "$(h1_left)" ] || WHY="$WHY left-on-h1:$(h1_left)"
    h2_empty || WHY="$WHY left-on-h2:$(echo "$H2" | tr '\n' ' ')"
    _cr_d=$(disk_tick "$GUEST_VDI_FILE")
    [ -n "$_cr_d" ] && [ "$_cr_d" -ge "${_cr_w:-999999999}" ] ||
        WHY="$WHY disk-says-$_cr_d-wrote-$_cr_w"
    CASE_DETAIL="exit $rc after ${_cr_took}s: $(grep -v '^vm-migrate:' "$MIG_ERR" | head -n 1 | cut -c1-90); disk TICK-$_cr_d (written $_cr_w before the destroy); nothing left"
    [ -z "$WHY" ] && return 0
    CASE_DETAIL="exit $rc:$WHY"
    task_logs "$TASK"
    say "---- dom0 kernel log (tail)"; dmesg | tail -n 5 | sed 's/^/### | /'
    return 1
}
crash_clean() {
    vdi_guest_destroy "$CRASH_VM"
    h2_do clean > /dev/null
}
if want crash; then
    retry_tf vmm-crash crash_try crash_clean
    crash_clean
fi

# ---- refusals: every failed check at once
if want refuse; then
    say "STEP vmm-refuse: h1's whole CPU and more memory than h2 has free"
    h2free=$(peer_fact free_memory)
    if vdi_guest vmmbig $((h2free + 64)) ""; then
        xlmig-xe vm-assert-can-migrate vm=vmmbig host=h2 vdi:"$GUEST_VDI"="$PEER_SR" > /tmp/assert.out 2> /tmp/assert.err
        rc=$?
        sed 's/^/### | /' /tmp/assert.err
        if [ $rc = 1 ] && grep -q '^VM_INCOMPATIBLE_WITH_THIS_HOST: .*lahf' /tmp/assert.err &&
            grep -q '^HOST_NOT_ENOUGH_FREE_MEMORY' /tmp/assert.err && h2_empty; then
            result vmm-refuse OK "(both at once: $(cut -d: -f1 /tmp/assert.err | sort -u | tr '\n' ' '))"
        else
            result vmm-refuse FAIL "exit $rc; $(tr '\n' ' ' < /tmp/assert.err)"
        fi
    else
        result vmm-refuse FAIL "the big guest did not start (h2 has ${h2free} MiB free)"
    fi
    vdi_guest_destroy vmmbig
fi

# ---- the limit: four at once, three slots
if want limit; then
    say "STEP vmm-limit: four migrations at once, migration-concurrency=3"
    show xlmig-xe pool-param-set migration-concurrency=3
    ok=1
    vdis=""
    for n in 1 2 3 4; do
        vdi_guest "lim$n" "$VMM_MB" || ok=0
        vdis="$vdis $GUEST_VDI"
    done
    if [ $ok = 1 ]; then
        set -- $vdis
        pids=""
        for n in 1 2 3 4; do
            eval "v=\$$n"
            xlmig-xe vm-migrate vm="lim$n" host=h2 vdi:"$v"="$PEER_SR" compress=false \
                bwlimit=2M > "/tmp/lim$n.out" 2> "/tmp/lim$n.err" &
            pids="$pids $!"
        done
        seen=""
        clock; lim_end=$((NOW + 300))
        while [ -z "$seen" ] && clock && [ "$NOW" -lt "$lim_end" ]; do
            st=$(xlmig-xe task-list params=status --minimal 2>/dev/null | tr ',' '\n')
            if [ "$(echo "$st" | grep -c '^running$')" = 3 ] &&
                [ "$(echo "$st" | grep -c '^queued$')" = 1 ]; then
                seen="3 running, 1 queued"
                show xlmig-xe task-list params=uuid,vm,status,phase,progress
            fi
            sleep 0.5
        done
        rcs=""
        for p in $pids; do wait "$p"; rcs="$rcs$?"; done
        moved=0
        for n in 1 2 3 4; do
            xl domid "lim$n" > /dev/null 2>&1 || moved=$((moved + 1))
        done
        h2_do facts > /dev/null
        if [ -n "$seen" ] && [ "$rcs" = 0000 ] && [ $moved = 4 ] &&
            [ "$(h2_get domains | wc -w)" = 4 ]; then
            result vmm-limit OK "(task-list showed $seen; all four finished; h2 runs $(h2_get domains))"
        else
            result vmm-limit FAIL "seen '$seen', exits $rcs, $moved moved, h2 runs '$(h2_get domains)'"
        fi
    else
        result vmm-limit FAIL "the four guests did not start"
    fi
    for n in 1 2 3 4; do vdi_guest_destroy "lim$n"; done
    h2_do clean > /dev/null
fi

# ---- pool operations (issue 13): host evacuation and the wlb-hook

# enabled_of HOST: true or false, as host-list says.
enabled_of() {
    xlmig-xe host-list params=name-label,enabled --minimal 2> /dev/null |
        grep "^$1," | cut -d, -f2
}
# njournals: how many source journals host 1 has.
njournals() { find "$XLMIG_STATE/migrate" -name '*.json' 2> /dev/null | wc -l; }
# nvdis: how many VDIs host 1's local SR has.
nvdis() { find "$LOCAL_SR_PATH" -name '*.json' 2> /dev/null | wc -l; }

# The evacuation: three guests that can go, one that cannot (booted
# with h1's whole CPU, which h2 refuses: no lahf_lm there).
EV_GUESTS="evac1 evac2 evac3"
EV_STUCK=evacpu
# ev_all_on_h1: every guest of the case still runs on h1, h1 enabled,
# no journal started, nothing on h2; appends to WHY.
ev_all_on_h1() {
    for _ea in $EV_GUESTS $EV_STUCK; do
        xl domid "$_ea" > /dev/null 2>&1 || WHY="$WHY $_ea-not-on-h1"
    done
    [ "$(enabled_of h1)" = true ] || WHY="$WHY h1-not-enabled"
    [ "$(njournals)" = "$EV_J0" ] || WHY="$WHY journals:$EV_J0->$(njournals)"
    h2_empty || WHY="$WHY left-on-h2:$(echo "$H2" | tr '\n' ' ')"
}
evac_try() {
    say "STEP vmm-evacuate: host-evacuate of h1, three guests to h2 and one (h1's whole CPU) that cannot go"
    for g in $EV_GUESTS; do
        if ! vdi_guest "$g" "$VMM_MB"; then
            CASE_DETAIL="guest $g did not start"
            return 1
        fi
    done
    if ! vdi_guest "$EV_STUCK" "$VMM_MB" ""; then
        CASE_DETAIL="guest $EV_STUCK (h1's whole CPU) did not start"
        return 1
    fi
    if ! revive $EV_GUESTS "$EV_STUCK"; then
        CASE_DETAIL="the four guests did not run at once"
        return 1
    fi
    EV_J0=$(njournals)
    ev_v0=$(nvdis)

    # Which of them keep h1 from being evacuated: the one guest.
    xlmig-xe host-get-vms-which-prevent-evacuation host=h1 sr="$PEER_SR" \
        > /tmp/ev-prev.out 2> /tmp/ev-prev.err
    rc=$?
    sed 's/^/### | /' /tmp/ev-prev.out /tmp/ev-prev.err
    if [ $rc != 0 ] || [ "$(grep -c 'name-label ( RO)' /tmp/ev-prev.out)" != 1 ] ||
        ! grep -q "name-label ( RO): $EV_STUCK\$" /tmp/ev-prev.out ||
        ! grep -q "reason ( RO): .*VM_INCOMPATIBLE_WITH_THIS_HOST: .*lahf" /tmp/ev-prev.out; then
        CASE_DETAIL="host-get-vms-which-prevent-evacuation (exit $rc) did not name $EV_STUCK alone with its CPU: $(cat /tmp/ev-prev.out /tmp/ev-prev.err | tr '\n' ' ' | cut -c1-400)"
        say "vmm-evacuate: $CASE_DETAIL"
        return 1
    fi
    ev_cpu=$(grep -o 'VM_INCOMPATIBLE_WITH_THIS_HOST: .*' /tmp/ev-prev.out | head -n 1 |
        sed 's/^\(VM_INCOMPATIBLE_WITH_THIS_HOST\): .*: \([^:]*\) missing on .*/\1 (\2 missing on h2)/' |
        cut -c1-160)
    WHY=""
    ev_all_on_h1
    if [ -n "$WHY" ]; then
        CASE_DETAIL="host-get-vms-which-prevent-evacuation changed something:$WHY"
        say "vmm-evacuate: $CASE_DETAIL"
        return 1
    fi

    # Without skip-unmovable=true: refused at once, nothing moved.
    t=$(uptime_s)
    xlmig-xe host-evacuate host=h1 sr="$PEER_SR" > /tmp/ev.out 2> /tmp/ev.err
    rc=$?
    ev_refused_s=$(elapsed "$t")
    sed 's/^/### | /' /tmp/ev.out /tmp/ev.err
    WHY=""
    [ $rc = 1 ] || WHY="$WHY exit-$rc"
    [ ! -s /tmp/ev.out ] || WHY="$WHY said-something-on-stdout"
    grep -qx "NO_HOSTS_AVAILABLE: host h1 cannot be evacuated: 1 of its 4 running VM(s) have nowhere to go: $EV_STUCK; nothing was moved and host h1 was not disabled; fix what they lack, or give skip-unmovable=true to move the others" /tmp/ev.err ||
        WHY="$WHY no-refusal-naming-$EV_STUCK"
    grep -q "^VM $EV_STUCK ([0-9a-f-]*): .*VM_INCOMPATIBLE_WITH_THIS_HOST" /tmp/ev.err ||
        WHY="$WHY no-cpu-reason"
    ev_all_on_h1
    if [ -n "$WHY" ]; then
        CASE_DETAIL="host-evacuate without skip-unmovable=true:$WHY"
        say "vmm-evacuate: $CASE_DETAIL"
        return 1
    fi

    # With it: the three go, two at a time, in the priority lane.
    for g in $EV_GUESTS; do echo "$g $(guest_tick "$g")"; done > /tmp/ev-t0
    t=$(uptime_s)
    xlmig-xe host-evacuate host=h1 sr="$PEER_SR" skip-unmovable=true \
        > /tmp/ev.out 2> /tmp/ev.err &
    epid=$!
    seen="" dis=""
    n=0
    while [ -z "$seen" ] && alive "$epid" && [ $n -lt 900 ]; do
        xlmig-xe task-list params=status,priority --minimal > /tmp/ev-tl.out 2> /dev/null
        if [ "$(grep -c '^running,true$' /tmp/ev-tl.out)" = 2 ] &&
            [ "$(grep -c '^queued,true$' /tmp/ev-tl.out)" = 1 ]; then
            seen="2 running, 1 queued"
            dis=$(enabled_of h1)
            show xlmig-xe task-list params=uuid,vm,status,phase,progress,priority
        fi
        sleep 1
        n=$((n + 1))
    done
    wait "$epid"
    rc=$?
    ev_took=$(elapsed "$t")
    sed 's/^/### | /' /tmp/ev.out
    grep -v ': VM [^ ]*: [a-z]* [0-9]*%' /tmp/ev.err | sed 's/^/### | /'
    WHY=""
    [ -n "$seen" ] || WHY="$WHY task-list-never-showed-2-running-1-queued"
    [ -z "$seen" ] || [ "$dis" = false ] || WHY="$WHY h1-enabled-while-evacuated"
    [ $rc = 1 ] || WHY="$WHY exit-$rc"
    grep -qx "host h1 disabled; 4 running VM(s) to move" /tmp/ev.out || WHY="$WHY no-disabled-line"
    grep -qx "host-evacuate: 4 VM(s): 3 moved, 1 refused, 0 failed" /tmp/ev.out || WHY="$WHY summary"
    grep -q "^refused: VM $EV_STUCK: NO_HOSTS_AVAILABLE" /tmp/ev.out || WHY="$WHY $EV_STUCK-not-refused"
    # The spec: the host stays disabled after its evacuation.
    [ "$(enabled_of h1)" = false ] || WHY="$WHY h1-not-left-disabled"
    # The guest left behind stays on h1; it ticks on, unless it died
    # meanwhile in a triple fault of its own (nested TCG), which is no
    # fault of the evacuation: said, not failed.
    xl domid "$EV_STUCK" > /dev/null 2>&1 || WHY="$WHY $EV_STUCK-not-on-h1"
    ev_st=$(guest_tick "$EV_STUCK")
    ev_stuck="$EV_STUCK ticks on at h1"
    if guest_dead "$EV_STUCK"; then
        ev_stuck="$EV_STUCK still on h1 (it triple-faulted meanwhile, at tick $ev_st: nested TCG)"
    elif ! wait_tick "$EV_STUCK" $((ev_st + 2 * TICK_HZ)) 120 > /dev/null; then
        WHY="$WHY $EV_STUCK-stopped"
    fi
    gaps="" ev_max=0
    for g in $EV_GUESTS; do
        xl domid "$g" > /dev/null 2>&1 && WHY="$WHY $g-still-on-h1"
        ev_h1=$(guest_tick "$g")
        wait_tick "$g" $((ev_h1 + 2 * TICK_HZ)) 180 "$PEER_CONSOLE" > /dev/null ||
            WHY="$WHY $g-no-ticks-on-h2"
        [ "$(guest_boots "$g" "$PEER_CONSOLE")" = 0 ] || WHY="$WHY $g-rebooted"
        ev_t0=$(sed -n "s/^$g //p" /tmp/ev-t0)
        ev_s=$(sed -n "s/^moved: VM $g to host h2 (\([0-9.]*\) s)\$/\1/p" /tmp/ev.out)
        [ -n "$ev_s" ] || WHY="$WHY $g-not-moved-to-h2"
        if downtime "$g" "$ev_t0" "${ev_s:-?}" > /dev/null; then
            say "$g: $DOWNTIME_TEXT"
            gaps="$gaps $g $DOWNTIME s in ${ev_s:-?} s,"
            ev_max=$(awk -v a="$ev_max" -v b="$DOWNTIME" 'BEGIN { print (b > a) ? b : a }')
        else
            WHY="$WHY $g-no-downtime"
        fi
    done
    [ -z "$(h1_left)" ] || WHY="$WHY left-on-h1:$(h1_left)"
    [ "$(nvdis)" = $((ev_v0 - 3)) ] || WHY="$WHY vdis-on-h1:$ev_v0->$(nvdis)"
    h2_do facts > /dev/null
    [ "$(h2_get domains | tr ' ' '\n' | grep . | sort | tr '\n' ' ')" = "$EV_GUESTS " ] ||
        WHY="$WHY h2-runs:$(h2_get domains)"
    [ "$(h2_get vdis)" = 3 ] || WHY="$WHY vdis-on-h2:$(h2_get vdis)"
    [ "$(h2_get sxm)$(h2_get journals)$(h2_get workers)" = 000 ] ||
        WHY="$WHY left-on-h2:$(echo "$H2" | tr '\n' ' ')"
    # Each disk on h2 holds the last tick its guest wrote there.
    for g in $EV_GUESTS; do
        h2_do "check $g" > /dev/null
        ev_w=$(guest_wrote "$g" "$PEER_CONSOLE")
        ev_d=$(h2_get disk_tick)
        [ -n "$ev_d" ] && [ "$ev_d" -ge "${ev_w:-999999999}" ] ||
            WHY="$WHY $g-disk-says-$ev_d-wrote-$ev_w"
    done
    show xlmig-xe host-enable host=h1 || WHY="$WHY host-enable-failed"
    [ "$(enabled_of h1)" = true ] || WHY="$WHY h1-not-enabled-again"
    if [ -z "$WHY" ]; then
        CASE_DETAIL="host-get-vms-which-prevent-evacuation named $EV_STUCK alone, $ev_cpu; without skip-unmovable=true refused in $ev_refused_s s, nothing moved; with it: task-list showed $seen (priority lane), 3 moved, 1 refused in $ev_took s, h1 disabled (host-enable after); largest tick gaps:${gaps%,}, at most $ev_max s; $ev_stuck; nothing left over"
        return 0
    fi
    CASE_DETAIL="exit $rc:$WHY (seen '$seen'; gaps:${gaps%,})"
    say "vmm-evacuate: $CASE_DETAIL"
    for g in $EV_GUESTS; do
        ! xl domid "$g" > /dev/null 2>&1 || dump_guest "$g"
    done
    sed -n 's/^VM [^ ]*: task \([0-9a-f-]*\),.*/\1/p' /tmp/ev.out |
        while read -r ev_task; do task_logs "$ev_task"; done
    return 1
}
evac_clean() {
    for g in $EV_GUESTS $EV_STUCK; do vdi_guest_destroy "$g"; done
    h2_do clean > /dev/null
    [ "$(enabled_of h1)" = true ] || xlmig-xe host-enable host=h1
}
if want evacuate; then
    ev_comp=$(xlmig-xe pool-param-get param-name=migration-compression)
    # Compressed: three guests over the emulated link take minutes less.
    show xlmig-xe pool-param-set migration-concurrency=2 migration-compression=true
    retry_tf vmm-evacuate evac_try evac_clean
    evac_clean
    show xlmig-xe pool-param-set migration-concurrency=3 migration-compression="${ev_comp:-false}"
fi

# The wlb-hook: the test's balancer (docs/specs/wlb-hook.md), run by h1's
# xlmigd, where the guest is; it ranks the host named as its argument
# first, with WLB_REASON, then the others by free memory, and says what
# it was asked in WLB_ASKED.  WLB_HANG never answers.
WLB_HOOK=/tmp/vmm-balancer.py
WLB_HANG=/tmp/vmm-balancer-hangs.sh
WLB_ASKED=/tmp/vmm-balancer.asked
WLB_REASON="preferred by the test balancer"
wlb_write() {
    cat > "$WLB_HOOK" << PY
#!/usr/bin/python3
import json
import sys

request = json.load(sys.stdin)
if request.get("version") != 1:
    sys.exit("vmm-balancer: request version %r, not 1" % request.get("version"))
prefer = sys.argv[1] if len(sys.argv) > 1 else None
hosts = [h for h in request["hosts"] if h["can_take"]]
with open("$WLB_ASKED", "w") as f:
    f.write("vm=%s source=%s can_take=%s\n" % (request["vm"]["name"],
            request["source"], ",".join(h["name"] for h in hosts)))
hosts.sort(key=lambda h: (h["name"] != prefer,
                          -h["facts"]["free_memory_kib"], h["name"]))
recommendations = []
for h in hosts:
    if h["name"] == prefer:
        recommendations.append({"host": h["name"], "score": 1.0,
                                "reason": "$WLB_REASON"})
    else:
        recommendations.append({"host": h["name"], "score": 0.5,
                                "reason": "%d MiB free"
                                % (h["facts"]["free_memory_kib"] // 1024)})
json.dump({"version": 1, "recommendations": recommendations}, sys.stdout)
PY
    printf '#!/bin/sh\nsleep 67\n' > "$WLB_HANG"
    chmod +x "$WLB_HOOK" "$WLB_HANG"
}
# wlb_recs: vm-retrieve-wlb-recommendations of wlb1 (sr=h2's SR), its
# output in /tmp/wlb.out and .err, exit in RRC, seconds in RRS.
wlb_recs() {
    _wr_t=$(uptime_s)
    xlmig-xe vm-retrieve-wlb-recommendations vm=wlb1 sr="$PEER_SR" \
        > /tmp/wlb.out 2> /tmp/wlb.err
    RRC=$?
    RRS=$(elapsed "$_wr_t")
    sed 's/^/### | /' /tmp/wlb.out /tmp/wlb.err
}
wlb_try() {
    say "STEP vmm-wlb: a wlb-hook preferring h2; vm-migrate without host=; a hook that hangs"
    if ! vdi_guest wlb1 "$VMM_MB"; then
        CASE_DETAIL="the guest did not start"
        return 1
    fi
    wlb_write
    rm -f "$WLB_ASKED"
    show xlmig-xe pool-param-set wlb-hook="$WLB_HOOK h2" wlb-hook-timeout=10
    wlb_recs
    WHY=""
    [ "$(xlmig-xe pool-param-get param-name=wlb-hook)" = "$WLB_HOOK h2" ] || WHY="$WHY pool-param-get"
    [ $RRC = 0 ] || WHY="$WHY exit-$RRC"
    [ ! -s /tmp/wlb.err ] || WHY="$WHY said-something-on-stderr"
    sed -n 2p /tmp/wlb.out | grep -qx "h2 *: wlb-hook, 1, $WLB_REASON" || WHY="$WHY h2-not-first-by-the-hook"
    grep -q "^h1 *: refused: INVALID_VALUE" /tmp/wlb.out || WHY="$WHY h1-not-refused"
    grep -qx "vm=wlb1 source=h1 can_take=h2" "$WLB_ASKED" 2> /dev/null ||
        WHY="$WHY asked:$(cat "$WLB_ASKED" 2> /dev/null)"
    if [ -n "$WHY" ]; then
        CASE_DETAIL="recommendations with the hook:$WHY"
        say "vmm-wlb: $CASE_DETAIL"
        return 1
    fi
    wlb_rec=$(sed -n 2p /tmp/wlb.out)

    # A hook that hangs past the limit: killed, the built-in choice.
    show xlmig-xe pool-param-set wlb-hook="$WLB_HANG" wlb-hook-timeout=2
    wlb_recs
    WHY=""
    [ $RRC = 0 ] || WHY="$WHY exit-$RRC"
    grep -q "^WLB_TIMEOUT: wlb-hook '$WLB_HANG' gave no answer for VM wlb1 within 2.000 s" /tmp/wlb.err ||
        WHY="$WHY no-WLB_TIMEOUT"
    grep -q "placing VM wlb1 by the built-in choice (most free memory) instead\$" /tmp/wlb.err ||
        WHY="$WHY no-fallback-said"
    sed -n 2p /tmp/wlb.out | grep -qx "h2 *: built-in, [0-9]*, most free memory: [0-9]* MiB" ||
        WHY="$WHY h2-not-first-built-in"
    awk -v s="$RRS" 'BEGIN { exit !(s >= 2 && s < 30) }' || WHY="$WHY answered-in-${RRS}s"
    ! pgrep -fx 'sleep 67' > /dev/null || WHY="$WHY hook-left-running"
    wlb_fb=$(sed -n 2p /tmp/wlb.out)
    xlmig-xe vm-assert-can-migrate vm=wlb1 sr="$PEER_SR" > /tmp/wlb-assert.out 2> /tmp/wlb-assert.err
    rc=$?
    sed 's/^/### | /' /tmp/wlb-assert.out /tmp/wlb-assert.err
    [ $rc = 0 ] || WHY="$WHY assert-exit-$rc"
    grep -qx "VM wlb1 can migrate to host h2 (placed by the built-in choice: most free memory: [0-9]* MiB)" /tmp/wlb-assert.out ||
        WHY="$WHY assert-not-built-in"
    grep -q "^WLB_TIMEOUT: .*placing VM wlb1 by the built-in choice" /tmp/wlb-assert.err ||
        WHY="$WHY assert-did-not-say-WLB_TIMEOUT"
    if [ -n "$WHY" ]; then
        CASE_DETAIL="a hook that hangs (wlb-hook-timeout=2):$WHY"
        say "vmm-wlb: $CASE_DETAIL"
        return 1
    fi
    wlb_hang_s=$RRS

    # vm-migrate without host=: where the hook says.
    show xlmig-xe pool-param-set wlb-hook="$WLB_HOOK h2" wlb-hook-timeout=10
    t0=$(guest_tick wlb1)
    t=$(uptime_s)
    xlmig-xe vm-migrate vm=wlb1 sr="$PEER_SR" compress=true > /tmp/wlb-mig.out 2> /tmp/wlb-mig.err
    rc=$?
    took=$(elapsed "$t")
    sed 's/^/### | /' /tmp/wlb-mig.out
    grep -v ': [a-z]* [0-9]*%' /tmp/wlb-mig.err | sed 's/^/### | /'
    WHY=""
    sed -n 2p /tmp/wlb-mig.out | grep -qx "VM wlb1 placed on host h2 (wlb-hook: $WLB_REASON)" ||
        WHY="$WHY not-placed-by-the-hook"
    ! grep -q "^WLB_" /tmp/wlb-mig.err || WHY="$WHY hook-failed"
    if [ $rc = 0 ] && [ -z "$WHY" ] && moved_to_h2 wlb1 "$t0" "$took"; then
        CASE_DETAIL="recommendations '$wlb_rec'; placed and moved to h2 by the hook: $MOVE_DETAIL; a hook hanging past wlb-hook-timeout=2: WLB_TIMEOUT after $wlb_hang_s s, '$wlb_fb', vm-assert-can-migrate placed by the built-in choice"
        return 0
    fi
    CASE_DETAIL="vm-migrate without host= exit $rc:$WHY; $MOVE_DETAIL"
    say "vmm-wlb: $CASE_DETAIL"
    dump_guest wlb1
    task_logs "$(head -n 1 /tmp/wlb-mig.out)"
    return 1
}
wlb_clean() {
    vdi_guest_destroy wlb1
    h2_do clean > /dev/null
}
if want wlb; then
    retry_tf vmm-wlb wlb_try wlb_clean
    wlb_clean
    show xlmig-xe pool-param-set wlb-hook= wlb-hook-timeout=10
    [ -z "$(xlmig-xe pool-param-get param-name=wlb-hook)" ] || say "vmm-wlb: the wlb-hook was not cleared"
    rm -f "$WLB_HOOK" "$WLB_HANG" "$WLB_ASKED"
fi

# ---- the rolling pool upgrade (last: both hosts report a new version
# after it)
. /xenhost/vmm-rolling.sh

# ---- make bench: vm-migrate, compressed and not, against xl migrate
# (only when VMM_ONLY names it: tests/xenhost/tests/bench.sh).  The same
# guest (VMM_MB MiB, ticking, writing) each time: vm-migrate moves its
# memory and its disk (a local VDI to h2's SR); xl migrate moves its
# memory only, its disk a qcow2 on the share both hosts see.
want_bench() { case ,${VMM_ONLY:-}, in *,bench,*) return 0 ;; *) return 1 ;; esac; }
if want_bench; then
    BENCH=""
    # bench_try: one vm-migrate of a fresh guest with compress=$c.
    bench_try() {
        say "STEP vmm-bench: vm-migrate compress=$c"
        if ! vdi_guest "bench-$c" "$VMM_MB"; then
            CASE_DETAIL="the guest did not start"
            return 1
        fi
        t0=$(guest_tick "bench-$c")
        t=$(uptime_s)
        xlmig-xe vm-migrate vm="bench-$c" host=h2 vdi:"$GUEST_VDI"="$PEER_SR" \
            compress=$c > /tmp/bench.out 2> /tmp/bench.err
        rc=$?
        took=$(elapsed "$t")
        sed 's/^/### | /' /tmp/bench.out /tmp/bench.err
        what=$(sed -n 's/.*(suspended to running there: \(.*\))$/\1/p' /tmp/bench.out)
        if [ $rc = 0 ] && moved_to_h2 "bench-$c" "$t0" "$took"; then
            grep -h "moved to" "$XLMIG_STATE"/migrate/*.log 2>/dev/null | tail -n 1 | sed 's/^/### | /'
            CASE_DETAIL="${took} s total, ${DOWNTIME} s down ($what)"
            return 0
        fi
        CASE_DETAIL="exit $rc:$WHY"
        return 1
    }
    bench_clean() {
        xl destroy "bench-$c" 2>/dev/null
        vdi_guest_destroy "bench-$c"
        h2_do clean > /dev/null
    }
    for c in true false; do
        if retry_tf "vmm-bench-$c" bench_try bench_clean; then
            say "BENCH vm-migrate compress=$c: $CASE_DETAIL"
            BENCH="$BENCH vm-migrate compress=$c: $CASE_DETAIL;"
        else
            BENCH="$BENCH vm-migrate compress=$c: FAILED ($CASE_DETAIL);"
        fi
        h2_do clean > /dev/null
    done
    say "STEP vmm-bench: xl migrate of the same guest, its disk on the share"
    h2_do xl-receive > /dev/null
    rm -f "$CONSOLE_LOGS"/guest-benchxl*.log
    if guest_disk "$SHARED/benchxl.qcow2" && guest_config benchxl "$SHARED/benchxl.qcow2" "$VMM_MB" "$POOL_CPUID" &&
        timeout 300 xl create /etc/xen/benchxl.cfg && wait_tick benchxl 1 300; then
        if remote_migrate benchxl "$SHARED/benchxl.qcow2"; then
            say "BENCH xl migrate: $REMOTE_DETAIL"
            BENCH="$BENCH xl migrate (memory only): $REMOTE_DETAIL"
        else
            BENCH="$BENCH xl migrate: FAILED ($REMOTE_DETAIL)"
        fi
    else
        BENCH="$BENCH xl migrate: the guest did not start"
        dump_guest benchxl
    fi
    xl destroy benchxl 2>/dev/null
    h2_do clean > /dev/null
    case $BENCH in
        *FAILED*|*"did not start"*) result vmm-bench FAIL "$BENCH" ;;
        *) result vmm-bench OK "($BENCH)" ;;
    esac
fi

say "vm-migrate tests done"
