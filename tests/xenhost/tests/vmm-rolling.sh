#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# vmm-rolling: a rolling pool upgrade over the two nested hosts, sourced by
# vm-migrate.sh on host 1 (its helpers: h2_do, h2_get, PEER_SR).  The
# "upgrade" is the test hook of xlmigd.conf (test-version-file, set by
# lib.sh's pool configurations): the command writes the version the
# host's daemon reports from then on.  The guest rg1 runs on h1's local
# SR and ticks throughout:
#   1. pool-rolling-upgrade sr=local-h2: h1 (the master) disabled,
#      evacuated (rg1 to h2's SR), upgraded to libxlmig 9.0.0, enabled;
#      then h2 disabled, and its evacuation refused: rg1's disk is on
#      local-h2, which h1 lacks.  The run stops there, saying how to go
#      on; the pool is mid-upgrade (vm-register refused).
#   2. the same with sr=local-h1: h1 skipped (at 9.0.0), h2 evacuated (rg1
#      back to h1's SR), upgraded, enabled; the pool no longer
#      mid-upgrade.  rg1 ran on throughout: its largest tick gap.
# Run last: both hosts report libxlmig 9.0.0 after it.
if want rolling; then
    say "STEP vmm-rolling: pool-rolling-upgrade over h1 and h2 (test-version-file)"
    # From clean hosts: a guest an earlier case left (one that crashed
    # is kept by on_crash=preserve) would be evacuated too, or refused.
    for dom in $(xl list | awk 'NR > 2 { print $1 }'); do
        say "vmm-rolling: removing $dom, left by an earlier case"
        vdi_guest_destroy "$dom"
    done
    h2_do clean > /dev/null
    RU_CMD="printf 'libxlmig=9.0.0\\n' > $XLMIG_STATE/test-version"
    WHY=""
    ru_detail=""
    if vdi_guest rg1 "$VMM_MB"; then
        wait_tick rg1 3 120 > /dev/null
        ru_t0=$(guest_tick rg1)
        ru_s=$(uptime_s)
        xlmig-xe pool-rolling-upgrade upgrade-command="$RU_CMD" sr=local-h2 \
            > /tmp/ru1.out 2> /tmp/ru1.err
        ru_rc1=$?
        sed 's/^/### ru1 | /' /tmp/ru1.out /tmp/ru1.err
        h2_do facts > /dev/null
        case " $(h2_get domains) " in *" rg1 "*) ;; *) WHY="$WHY rg1-not-on-h2" ;; esac
        xl domid rg1 > /dev/null 2>&1 && WHY="$WHY rg1-still-on-h1"
        [ $ru_rc1 = 1 ] || WHY="$WHY run1-exit-$ru_rc1"
        grep -q '^h1: back with libxlmig 9.0.0 / Xen ' /tmp/ru1.out || WHY="$WHY h1-not-upgraded"
        grep -qx 'h1: enabled' /tmp/ru1.out || WHY="$WHY h1-not-enabled"
        grep -q '^stopped at h2, step evacuate: ' /tmp/ru1.out || WHY="$WHY no-stop-at-h2-evacuate"
        grep -q '^to go on: xlmig-xe pool-rolling-upgrade ' /tmp/ru1.out || WHY="$WHY no-go-on-line"
        xlmig-xe vm-register vm=rg1 > /tmp/ru-reg.out 2>&1
        grep -q '^NOT_SUPPORTED_DURING_UPGRADE' /tmp/ru-reg.out || WHY="$WHY vm-register-not-refused:$(head -c 200 /tmp/ru-reg.out)"

        xlmig-xe pool-rolling-upgrade upgrade-command="$RU_CMD" sr=local-h1 \
            > /tmp/ru2.out 2> /tmp/ru2.err
        ru_rc2=$?
        sed 's/^/### ru2 | /' /tmp/ru2.out /tmp/ru2.err
        ru_took=$(elapsed "$ru_s")
        [ $ru_rc2 = 0 ] || WHY="$WHY run2-exit-$ru_rc2"
        grep -q '^h1: already at libxlmig 9.0.0 / Xen .*: skipped$' /tmp/ru2.out || WHY="$WHY h1-not-skipped"
        grep -q '^h2: back with libxlmig 9.0.0 / Xen ' /tmp/ru2.out || WHY="$WHY h2-not-upgraded"
        grep -q '^rolling upgrade done: 1 host upgraded, 1 upgraded already' /tmp/ru2.out || WHY="$WHY not-done"
        [ "$(xlmig-xe host-list params=enabled --minimal | tr ',' '\n' | grep -c '^true$')" = 2 ] ||
            WHY="$WHY enabled:$(xlmig-xe host-list params=name-label,enabled --minimal | tr '\n' ' ')"
        if xl domid rg1 > /dev/null 2>&1; then
            wait_tick rg1 $((ru_t0 + 10 * TICK_HZ)) 120 > /dev/null || WHY="$WHY rg1-not-ticking-on-h1"
            mirror_consoles rolling
            downtime rg1 "$ru_t0" "$ru_took" all > /dev/null
            ru_detail="rg1 ticked from $ru_t0 to $(guest_tick rg1), largest gap ${DOWNTIME:-?} s over both moves"
        else
            WHY="$WHY rg1-not-back-on-h1"
        fi
        if [ -z "$WHY" ]; then
            result vmm-rolling OK "(h1 then h2 to libxlmig 9.0.0 in ${ru_took} s over two runs: the first stopped at h2's evacuation, the second went on from there; $ru_detail)"
        else
            result vmm-rolling FAIL "$WHY; $ru_detail"
            dump_xlmigd 30
            # The guest's device model on each host (a QEMU that exited
            # at blockdev-mirror after the first hop was seen once).
            for f in /var/log/xen/qemu-dm-rg1.log /var/log/xen/qemu-dm-rg1--*.log; do
                [ -f "$f" ] || continue
                say "---- $f on h1 (tail)"
                tail -n 30 "$f" 2>&1 | sed 's/^/### | /'
            done
            say "---- the device models' logs of rg1 on h2 (tail)"
            h2_do "qemu-log rg1" | sed 's/^/### | /'
        fi
    else
        result vmm-rolling FAIL "the guest rg1 did not start"
    fi
    xlmig-xe pool-rolling-upgrade abandon=true > /dev/null 2>&1
    xlmig-xe host-enable host=h1 > /dev/null 2>&1
    xlmig-xe host-enable host=h2 > /dev/null 2>&1
    vdi_guest_destroy rg1
    h2_do clean > /dev/null
fi
