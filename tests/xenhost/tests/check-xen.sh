#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# check-xen: the Xen stack the project builds on works, end to end, on a
# real (nested) Xen 4.17 host.  Runs in host 1's dom0 (see run.sh):
#   host-info      `xlmig host-info` runs and reports Xen 4.17
#   pvh-create     a PVH guest with a qcow2 disk (qdisk backend) boots, ticks
#   save-verify    `xl save`, and the image passes verify-stream-v2
#   restore        `xl restore`: the guest resumes (same boot, ticks advance)
#   local-migrate  live migration to this same host
#   channel-migrate live migration to this host through libxlmig's stream
#                  channel (xl migrate -s "xlmig channel-send ..."): zstd,
#                  page transform, TLS with a pre-shared key
#   cpu-facts      (two hosts) host CPU facts read through libxc, both hosts
#                  recorded, the pool level; host 2 has fewer CPU features
#   cpu-check      the guest's boot CPU recorded; vm-cpu-check passes for
#                  host 1 and refuses host 2 naming the missing feature
#   cpu-refuse     xl migrate -s "xlmig channel-send --vm" to host 2 is
#                  refused by host 2 before anything moves; the guest runs on
#   remote-migrate live migration to host 2 (only with two hosts)
#   sxm-move       storage live migration on host 1: a second guest's qcow2
#                  VDI moves to another SR, as raw, while the guest writes
#                  its latest tick to it (vdi-pool-migrate through the
#                  device model's QMP socket); the guest runs on, on the
#                  new VDI, which holds the last tick it wrote
# The guest ticks TICK_HZ (10) times a second: "2 s of ticks past t0" is
# t0 + 2 * TICK_HZ.
. /xenhost/lib.sh

G=pvh1
DISK=$SHARED/$G.qcow2      # on the share, so host 2 can open it too
SAVE=/var/lib/xen/save/$G.save
VERIFY=/usr/lib/xen-4.17/bin/verify-stream-v2

if [ "$HOSTS" -gt 1 ]; then
    plan host-info pvh-create save-verify restore local-migrate \
        channel-migrate cpu-facts cpu-check cpu-refuse remote-migrate \
        sxm-move
else
    plan host-info pvh-create save-verify restore local-migrate \
        channel-migrate sxm-move
fi

# ---- (a) the project's CLI reports the hypervisor
say "STEP host-info: xlmig host-info"
xen_version=$(xl info | sed -n 's/^xen_version *: //p')
if ! command -v xlmig >/dev/null 2>&1; then
    result host-info FAIL "xlmig is not installed in dom0 (not in the overlay)"
else
    show timeout 60 xlmig host-info > /tmp/host-info.out
    rc=$?
    cat /tmp/host-info.out
    if [ $rc -ne 0 ]; then
        result host-info FAIL "xlmig host-info exited $rc"
    elif ! grep -q '4\.17' /tmp/host-info.out; then
        result host-info FAIL "no Xen version 4.17 in its output (xl info: $xen_version)"
    elif ! grep -qF "$xen_version" /tmp/host-info.out; then
        result host-info FAIL "its output lacks xl's xen_version $xen_version"
    else
        result host-info OK "(Xen $xen_version, as xl info says)"
    fi
fi

# ---- (b) PVH guest, qcow2 disk on qdisk
say "STEP pvh-create: PVH guest $G, 128 MiB, qcow2 disk $DISK (qdisk)"
running=0
t=$(uptime_s)
if guest_disk "$DISK" && guest_config "$G" "$DISK"; then
    if boot_guest "$G"; then
        running=1
        if guest_log "$G" | grep -aq 'GUEST-DISK-READ: HELLO-FROM-QCOW2-DISK'
        then
            result pvh-create OK "(ticking after $(elapsed "$t")s, disk marker read)"
        else
            result pvh-create FAIL "guest ticks but did not read its disk"
        fi
    else
        result pvh-create FAIL "guest never ticked"
    fi
else
    result pvh-create FAIL "its disk or config could not be made"
fi
[ $running = 1 ] || dump_guest "$G"

# ---- (c) save, and check the image against the stream spec
if [ $running = 1 ]; then
    t0=$(guest_tick "$G")
    say "STEP save-verify: xl save $G at tick $t0"
    t=$(uptime_s)
    if timeout 300 xl save "$G" "$SAVE"; then
        save_s=$(elapsed "$t")
        t0=$(guest_tick "$G")       # the last tick before it stopped
        say "saved in ${save_s}s: $(ls -l "$SAVE" | awk '{print $5}') bytes; $VERIFY -f xl"
        # The file starts with xl's own header; "-f xl" skips it and then
        # checks the libxl (v2) stream behind it.  Its Python modules are in
        # Xen's private directory, which Debian does not put on the path.
        t=$(uptime_s)
        PYTHONPATH=/usr/lib/xen-4.17/lib/python \
            timeout 600 python3 "$VERIFY" -v -f xl -i "$SAVE" \
            > /tmp/verify.out 2>&1
        rc=$?
        # -v lists every record: show the start, the end and a count.
        head -n 3 /tmp/verify.out | sed 's/^/### | /'
        echo "### | ..."
        tail -n 4 /tmp/verify.out | sed 's/^/### | /'
        records=$(grep -c . /tmp/verify.out)
        if [ $rc -eq 0 ]; then
            result save-verify OK "(save ${save_s}s, verify $(elapsed "$t")s, $records lines of records)"
        else
            result save-verify FAIL "verify-stream-v2 rejected the image (rc=$rc)"
        fi
    else
        result save-verify FAIL "xl save failed"
        running=0
        dump_guest "$G"
    fi
else
    result save-verify FAIL "no running guest"
fi

# ---- (d) restore: the same boot continues
# restore_once NAME T0: xl restore of $SAVE, and the guest NAME resumes
# from tick T0 without a reboot.  RESTORE_DETAIL says what happened.
restore_once() {
    _ro_t=$(uptime_s)
    if ! timeout 300 xl restore "$SAVE"; then
        RESTORE_DETAIL="xl restore failed"
        return 1
    fi
    _ro_s=$(elapsed "$_ro_t")
    if wait_tick "$1" $(($2 + 2 * TICK_HZ)) 180 &&
        [ "$(guest_boots "$1")" = 1 ]; then
        RESTORE_DETAIL="restore ${_ro_s}s, tick $2 -> $(guest_tick "$1"), no reboot"
        return 0
    fi
    RESTORE_DETAIL="guest did not resume (tick $2 -> $(guest_tick "$1"), boots $(guest_boots "$1"))"
    return 1
}

if [ -f "$SAVE" ] && [ $running = 1 ]; then
    say "STEP restore: xl restore"
    tf0=$(triple_faults)
    if restore_once "$G" "$t0"; then
        result restore OK "($RESTORE_DETAIL)"
    elif [ "$(triple_faults)" -gt "$tf0" ]; then
        # The nested-TCG flake (see remote_migrate_retry): a fresh guest,
        # saved and restored once more.  A failure of our own fails both.
        first="$RESTORE_DETAIL: the guest triple-faulted"
        say "$first; once more with a fresh guest"
        xl destroy "$G" 2>/dev/null
        G=$G-r2
        if start_guest "$G" "$DISK" && timeout 300 xl save "$G" "$SAVE" &&
            t0=$(guest_tick "$G") && restore_once "$G" "$t0"; then
            result restore OK "($RESTORE_DETAIL; second attempt, first: $first)"
        else
            result restore FAIL "$first; retry: $RESTORE_DETAIL"
            running=0
        fi
    else
        result restore FAIL "$RESTORE_DETAIL"
        running=0
    fi
    rm -f "$SAVE"
else
    result restore FAIL "no saved guest"
    running=0
fi
[ $running = 1 ] || dump_guest "$G"

# ---- (e) live migration to this host
if [ $running = 1 ]; then
    t0=$(guest_tick "$G")
    say "STEP local-migrate: xl migrate $G to localhost at tick $t0"
    t=$(uptime_s)
    if timeout 300 xl migrate -s "" "$G" "xl migrate-receive -e"; then
        mig_s=$(elapsed "$t")
        if wait_tick "$G" $((t0 + 2 * TICK_HZ)) 180 &&
            [ "$(guest_boots "$G")" = 1 ]; then
            result local-migrate OK "(migrate ${mig_s}s, tick $t0 -> $(guest_tick "$G"), no reboot)"
        else
            result local-migrate FAIL "guest did not continue (tick $t0 -> $(guest_tick "$G"), boots $(guest_boots "$G"))"
            running=0
        fi
    else
        result local-migrate FAIL "xl migrate failed"
        running=0
    fi
else
    result local-migrate FAIL "no running guest"
fi
[ $running = 1 ] || dump_guest "$G"

# ---- (f) live migration to this host through the stream channel

# channel_migrate NAME: xl migrate NAME to this host through
# `xlmig channel-listen` / `xlmig channel-send` (lz4, page transform, TLS
# with a fresh pre-shared key).  Sets CH_DETAIL; CH_XL_FAILED=1 when xl
# migrate itself failed.
channel_migrate() {
    _cm_t0=$(guest_tick "$1")
    CH_XL_FAILED=0
    say "STEP channel-migrate: xl migrate -s 'xlmig channel-send' $1 at tick $_cm_t0"
    _cm_psk=/tmp/xlmig.psk
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$_cm_psk"
    rm -f /tmp/xlmig.port
    xlmig channel-listen --once --bind 127.0.0.1 --port 0 \
        --port-file /tmp/xlmig.port --psk-file "$_cm_psk" \
        > /tmp/channel-listen.out 2>&1 &
    _cm_listener=$!
    wait_file /tmp/xlmig.port 30 && sleep 1
    _cm_port=$(cat /tmp/xlmig.port 2>/dev/null)
    _cm_t=$(uptime_s)
    if [ -n "$_cm_port" ] && timeout 300 xl migrate -s \
        "xlmig channel-send --psk-file=$_cm_psk --codec=lz4 --progress" \
        "$1" "127.0.0.1:$_cm_port" 2> /tmp/channel-send.err; then
        _cm_s=$(elapsed "$_cm_t")
        tail -n 2 /tmp/channel-send.err | sed 's/^/### | /'
        _cm_sent=$(grep -a 'done: sent' /tmp/channel-send.err | tail -n 1 |
            sed 's/.*done: sent: \(in .* delta [0-9]*\).*/\1/')
        if wait_tick "$1" $((_cm_t0 + 2 * TICK_HZ)) 180 &&
            [ "$(guest_boots "$1")" = 1 ]; then
            CH_DETAIL="migrate ${_cm_s}s, tick $_cm_t0 -> $(guest_tick "$1"), no reboot; $_cm_sent"
            _cm_rc=0
        else
            CH_DETAIL="guest did not continue (tick $_cm_t0 -> $(guest_tick "$1"), boots $(guest_boots "$1"))"
            _cm_rc=1
        fi
    else
        CH_DETAIL="xl migrate through the channel failed (port '$_cm_port')"
        CH_XL_FAILED=1
        tail -n 20 /tmp/channel-send.err /tmp/channel-listen.out |
            sed 's/^/### | /'
        _cm_rc=1
    fi
    wait "$_cm_listener" 2>/dev/null
    rm -f "$_cm_psk"
    return $_cm_rc
}

if [ $running = 1 ]; then
    tf0=$(triple_faults)
    if channel_migrate "$G"; then
        result channel-migrate OK "($CH_DETAIL)"
    elif [ "$CH_XL_FAILED" = 1 ] && [ "$(triple_faults)" -gt "$tf0" ]; then
        # The nested-TCG flake (see remote_migrate_retry): a new guest,
        # once.  A failure of our own fails both attempts.
        first=$CH_DETAIL
        say "the guest triple-faulted during the transfer; once more with a fresh guest"
        xl destroy "$G" 2>/dev/null
        G=$G-c2
        if start_guest "$G" "$DISK" && channel_migrate "$G"; then
            result channel-migrate OK "($CH_DETAIL; second attempt, first: $first: the guest triple-faulted)"
        else
            result channel-migrate FAIL "$first; retry: $CH_DETAIL"
            running=0
        fi
    else
        result channel-migrate FAIL "$CH_DETAIL"
        xl domid "$G" >/dev/null 2>&1 || running=0
    fi
else
    result channel-migrate FAIL "no running guest"
fi
[ $running = 1 ] || dump_guest "$G"

# ---- (g) CPU checks against host 2, which has fewer CPU features
if [ $running = 1 ] && ! fresh_if_dead G "$DISK"; then running=0; fi
if [ "$HOSTS" -gt 1 ]; then
    say "STEP cpu-facts: host CPU facts through libxc, records, pool level"
    export XLMIG_STATE_DIR=/var/lib/xlmig
    show xlmig-xe host-cpu-info params=vendor,features_hvm_max
    if show xlmig-xe host-cpu-record host=h1 &&
        wait_file "$SHARED/h2.cpu.json" 300 &&
        show xlmig-xe host-cpu-import file="$SHARED/h2.cpu.json" &&
        show xlmig-xe pool-cpu-info > /tmp/pool-cpu.out; then
        cat /tmp/pool-cpu.out
        lowers=$(xlmig-xe pool-cpu-info host=h2 params=lowers_hvm --minimal)
        if [ -n "$lowers" ]; then
            result cpu-facts OK "(h1 $(xlmig-xe host-cpu-info params=vendor --minimal); h2 lowers the pool's HVM level by: $lowers)"
        else
            result cpu-facts FAIL "host 2 lowers nothing: is it started with fewer CPU features?"
        fi
    else
        result cpu-facts FAIL "recording or reading the hosts' CPU facts failed"
    fi

    if [ $running = 1 ]; then
        say "STEP cpu-check: $G's boot CPU, checked against h1 and h2"
        show xlmig-xe vm-cpu-record vm="$G" params=name-label,type,vendor,features
        xlmig-xe vm-cpu-check vm="$G" host=h1 > /tmp/cpu-h1.out 2>&1
        rc1=$?
        xlmig-xe vm-cpu-check vm="$G" host=h2 > /tmp/cpu-h2.out 2>&1
        rc2=$?
        sed 's/^/### | /' /tmp/cpu-h1.out /tmp/cpu-h2.out
        if [ $rc1 -eq 0 ] && [ $rc2 -ne 0 ] &&
            grep -q 'VM_INCOMPATIBLE_WITH_THIS_HOST: .*lahf_lm.* missing on host h2' /tmp/cpu-h2.out &&
            grep -q 'Boot VM .* with at most that featureset' /tmp/cpu-h2.out; then
            result cpu-check OK "(h1 passes; h2: $(grep -o 'VM_INC[^(]*' /tmp/cpu-h2.out | head -n 1))"
        else
            result cpu-check FAIL "vm-cpu-check: h1 exit $rc1, h2 exit $rc2 (wanted 0 and a refusal naming lahf_lm)"
        fi

        say "STEP cpu-refuse: xl migrate -s 'xlmig channel-send --vm=$G' to h2"
        t0=$(guest_tick "$G")
        if timeout 300 xl migrate -s \
            "xlmig channel-send --vm=$G --psk-file=$SHARED/.cpu.psk" \
            "$G" "10.77.0.2:$CPU_CHECK_PORT" > /tmp/cpu-refuse.out 2>&1; then
            result cpu-refuse FAIL "xl migrate succeeded: host 2 did not refuse"
        elif grep -q 'VM_INCOMPATIBLE_WITH_THIS_HOST' /tmp/cpu-refuse.out &&
            grep -q 'lahf_lm' /tmp/cpu-refuse.out &&
            wait_tick "$G" $((t0 + 2 * TICK_HZ)) 120 &&
            [ "$(guest_boots "$G")" = 1 ]; then
            result cpu-refuse OK "(refused: $(grep -o 'VM_INCOMPATIBLE[^(]*' /tmp/cpu-refuse.out | head -n 1); guest ticks on h1: $t0 -> $(guest_tick "$G"))"
        else
            result cpu-refuse FAIL "no refusal naming lahf_lm, or the guest stopped (tick $t0 -> $(guest_tick "$G"))"
        fi
        sed 's/^/### | /' /tmp/cpu-refuse.out | tail -n 8
    else
        result cpu-check FAIL "no running guest"
        result cpu-refuse FAIL "no running guest"
    fi
fi

# ---- (h) live migration to host 2, disk on the share
if [ $running = 1 ] && ! fresh_if_dead G "$DISK"; then running=0; fi
if [ "$HOSTS" -gt 1 ]; then
    if [ $running = 1 ]; then
        say "STEP remote-migrate: live migration to host 2"
        if remote_migrate_retry "$G" "$DISK"; then
            result remote-migrate OK "($REMOTE_DETAIL)"
        else
            result remote-migrate FAIL "$REMOTE_DETAIL"
        fi
    else
        result remote-migrate FAIL "no running guest"
    fi
fi

xl destroy "$G" 2>/dev/null

# ---- (i) storage live migration of a running guest's VDI on this host
G2=pvh2
say "STEP sxm-move: guest $G2 on a qcow2 VDI; vdi-pool-migrate to another SR as raw"
export XLMIG_STATE_DIR=/var/lib/xlmig
sxm_detail=""
sxm_ok=0
SRA=$(xlmig-xe sr-create name-label=sra device-config:path=/var/lib/xlmig/sra) &&
SRB=$(xlmig-xe sr-create name-label=srb device-config:path=/var/lib/xlmig/srb) &&
V=$(xlmig-xe vdi-create sr-uuid="$SRA" name-label=g2disk virtual-size=64M) &&
guest_disk /var/lib/xlmig/sra/"$V".qcow2 &&
xlmig-xe vbd-create vm="$G2" vdi-uuid="$V" device=xvda &&
guest_config "$G2" /var/lib/xlmig/sra/"$V".qcow2 &&
boot_guest "$G2"
if [ $? -eq 0 ]; then
    domid=$(xl domid "$G2")
    qmp=/var/run/xen/qmp-libxl-$domid
    t0=$(guest_tick "$G2")
    rm -f /tmp/sxm-switch
    t=$(uptime_s)
    xlmig-xe vdi-pool-migrate uuid="$V" sr-uuid=srb format=raw qmp="$qmp" \
        vm="$G2" switch-file=/tmp/sxm-switch > /tmp/sxm.out 2> /tmp/sxm.err &
    pm=$!
    n=0
    while [ $n -lt 600 ]; do
        xlmig sxm-list 2>/dev/null | grep -q " src synced " && break
        kill -0 $pm 2>/dev/null || break
        sleep 0.5
        n=$((n + 1))
    done
    insync=$(elapsed "$t")
    xl pause "$G2"                  # the switch: the guest is paused
    touch /tmp/sxm-switch
    wait $pm
    rc=$?
    xl unpause "$G2"
    tsw=$(guest_tick "$G2")         # ticks past it come after the switch
    took=$(elapsed "$t")
    NEW=$(cat /tmp/sxm.out)
    sed 's/^/### | /' /tmp/sxm.err | tail -n 30
    if [ $rc -eq 0 ] && [ -f /var/lib/xlmig/srb/"$NEW".raw ] &&
        [ ! -e /var/lib/xlmig/sra/"$V".qcow2 ] &&
        wait_tick "$G2" $((t0 + 4 * TICK_HZ)) 120 &&
        wait_wrote "$G2" $((tsw + TICK_HZ)) 120; then
        last=$(guest_tick "$G2")
        xl destroy "$G2"
        # The guest says a tick is written once it is flushed: the new
        # VDI must hold that one (or a later one), from a second after the
        # switch (a tick the console had not shown yet at the switch is
        # no proof).
        wrote=$(guest_wrote "$G2")
        dtick=$(disk_tick /var/lib/xlmig/srb/"$NEW".raw raw)
        sxm_detail="in sync after ${insync}s, moved in ${took}s, ticks $t0 -> $last, last written $wrote, new raw VDI says TICK-$dtick"
        if [ -n "$dtick" ] && [ -n "$wrote" ] && [ "$dtick" -ge "$wrote" ] &&
            [ "$wrote" -gt $((tsw + TICK_HZ)) ] &&
            [ "$(guest_boots "$G2")" = 1 ]; then
            sxm_ok=1
        else
            sxm_detail="$sxm_detail: the new VDI lacks the guest's latest ticks, or the guest rebooted"
        fi
    else
        sxm_detail="vdi-pool-migrate exit $rc after ${took}s, new VDI '$NEW'"
        dump_guest "$G2"
    fi
else
    sxm_detail="setting up guest $G2 on a VDI failed"
    dump_guest "$G2"
fi
xl destroy "$G2" 2>/dev/null
if [ $sxm_ok = 1 ]; then
    result sxm-move OK "($sxm_detail)"
else
    result sxm-move FAIL "$sxm_detail"
fi
say "check-xen done"
