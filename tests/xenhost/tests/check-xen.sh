#!/bin/sh
# check-xen: the Xen stack the project builds on works, end to end, on a
# real (nested) Xen 4.17 host.  Runs in host 1's dom0 (see run.sh):
#   host-info      `xlmig host-info` runs and reports Xen 4.17
#   pvh-create     a PVH guest with a qcow2 disk (qdisk backend) boots, ticks
#   save-verify    `xl save`, and the image passes verify-stream-v2
#   restore        `xl restore`: the guest resumes (same boot, ticks advance)
#   local-migrate  live migration to this same host
#   remote-migrate live migration to host 2 (only with two hosts)
. /xenhost/lib.sh

G=pvh1
DISK=$SHARED/$G.qcow2      # on the share, so host 2 can open it too
SAVE=/var/lib/xen/save/$G.save
VERIFY=/usr/lib/xen-4.17/bin/verify-stream-v2

if [ "$HOSTS" -gt 1 ]; then
    plan host-info pvh-create save-verify restore local-migrate remote-migrate
else
    plan host-info pvh-create save-verify restore local-migrate
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
if guest_disk "$DISK" && guest_config "$G" "$DISK" &&
    timeout 300 xl create "/etc/xen/$G.cfg"; then
    say "xl create done in $(elapsed "$t")s, waiting for the guest to tick"
    if wait_tick "$G" 1 300; then
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
    result pvh-create FAIL "xl create failed"
fi
[ $running = 1 ] || dump_guest "$G"

# ---- (c) save, and check the image against the stream spec
if [ $running = 1 ]; then
    t0=$(guest_tick "$G")
    say "STEP save-verify: xl save $G at tick $t0"
    t=$(uptime_s)
    if timeout 300 xl save "$G" "$SAVE"; then
        save_s=$(elapsed "$t")
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
if [ -f "$SAVE" ] && [ $running = 1 ]; then
    say "STEP restore: xl restore"
    t=$(uptime_s)
    if timeout 300 xl restore "$SAVE"; then
        restore_s=$(elapsed "$t")
        if wait_tick "$G" $((t0 + 2)) 180 && [ "$(guest_boots "$G")" = 1 ]; then
            result restore OK "(restore ${restore_s}s, tick $t0 -> $(guest_tick "$G"), no reboot)"
        else
            result restore FAIL "guest did not resume (tick $t0 -> $(guest_tick "$G"), boots $(guest_boots "$G"))"
            running=0
        fi
    else
        result restore FAIL "xl restore failed"
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
        if wait_tick "$G" $((t0 + 2)) 180 && [ "$(guest_boots "$G")" = 1 ]; then
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

# ---- (f) live migration to host 2, disk on the share
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
say "check-xen done"
