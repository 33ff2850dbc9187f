#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# End-to-end tests of tests/tools/fake-xen, the stand-in hypervisor of
# `make check` (docs/specs/fake-xen.md), with real components: the
# source domain's device model is a qemu-storage-daemon serving a qcow2
# (QMP and NBD on unix sockets, as test-sxm.sh starts one) and its guest
# is nbd-writer writing to it.
#   - suspend piped into restore on a second host, "xlmig-ready\n" after
#     the stream in the same pipe: the restored RAM equals the source's
#     byte for byte, xlmig's follower reaches the libxl END at the
#     stream's end, restore leaves the line unread, the source is
#     suspended with its guest stopped, the destination paused with a
#     device model that answers QMP naming the disk;
#   - a slowed suspend watched: the guest runs through the first pass
#     and the first dirty round and is stopped before the last;
#   - failures: a missing disk and a cut stream leave nothing behind;
#     a reader that dies fails the suspend with IO_ERROR, the domain
#     running or suspended, and then resumable;
#   - destroy stops the device model; boot (the create operation);
#     pause, unpause, rename; a malformed domain file; arguments.
# Ends with "integration-fakexen: N passed, N failed".
#
# Environment: XLMIG_BUILDDIR (default build), XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"
FX=$bld/tests/tools/fake-xen
NW=$bld/tests/tools/nbd-writer
case $FX in /*) ;; *) FX=$PWD/$FX ;; esac
case $NW in /*) ;; *) NW=$PWD/$NW ;; esac

d=$(mktemp -d /tmp/xlmig-fakexen.XXXXXX)
LABEL=integration-fakexen
. "$here/lib.sh"

for b in "$FX" "$NW"; do
    if [ ! -x "$b" ]; then
        echo "missing $b: run make first"
        failed=1
        finish
    fi
done
for t in qemu-img qemu-storage-daemon python3; do
    if ! command -v $t > /dev/null; then
        echo "missing $t: run scripts/install-deps.sh"
        failed=1
        finish
    fi
done

A=$d/hostA                      # the source host
B=$d/hostB                      # the destination host
MiB=1048576
UUID=5b7e1c2a-3d4f-4e6a-9b8c-0d1e2f3a4b5c
qsd_pid=""
writer_pid=""
cleanup_extra() {
    [ -n "$writer_pid" ] && kill -9 "$writer_pid" 2> /dev/null
    [ -n "$qsd_pid" ] && kill -9 "$qsd_pid" 2> /dev/null
    local f
    for f in "$A"/dm-*.pid "$B"/dm-*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2> /dev/null
    done
}

# qmp SOCKET COMMAND [ARGS-JSON]: one QMP command, its return as JSON.
qmp() {
    python3 - "$1" "$2" "${3:-{\}}" << 'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rw')
f.readline()
for c in ({'execute': 'qmp_capabilities'},
          {'execute': sys.argv[2], 'arguments': json.loads(sys.argv[3])}):
    f.write(json.dumps(c) + '\n'); f.flush()
    while True:
        m = json.loads(f.readline())
        if 'event' not in m: break
print(json.dumps(m.get('return', m)))
PY
}

# member DIR DOM KEY: a top-level member of the domain's file.
member() {
    "$FX" show --dir "$1" "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}

# pstate PID: the state letter of a process (R, S, T, ...), or "gone"
# (a zombie too: it has exited).
pstate() {
    local s
    s=$(cat "/proc/$1/stat" 2> /dev/null) || { echo gone; return; }
    s=${s##*) }
    s=${s%% *}
    [ "$s" = Z ] && s=gone
    echo "$s"
}

# config FILE NAME DISK: a libxl configuration, as `xl list -l` shows one.
config() {
    cat > "$1" << EOF
{
    "c_info": {
        "type": "pvh",
        "name": "$2",
        "uuid": "$UUID",
        "run_hotplug_scripts": "True"
    },
    "b_info": {
        "max_vcpus": 2,
        "avail_vcpus": [0, 1],
        "max_memkb": 262144,
        "target_memkb": 262144,
        "kernel": "/boot/vmlinuz",
        "cmdline": "console=hvc0 root=/dev/xvda",
        "type.pvh": {},
        "arch_arm": {},
        "arch_x86": {"msr_relaxed": "False"}
    },
    "disks": [
        {
            "pdev_path": "$3",
            "vdev": "xvda",
            "backend": "qdisk",
            "format": "qcow2",
            "readwrite": 1
        }
    ],
    "nics": [
        {
            "devid": 0,
            "mac": "00:16:3e:12:34:56",
            "bridge": "xenbr0",
            "nictype": "vif"
        }
    ],
    "on_reboot": "restart",
    "on_soft_reset": "soft_reset"
}
EOF
}

# nothing_left DIR DOMID: no trace of domain DOMID on host DIR.
nothing_left() {
    local why=""
    [ -e "$1/domains/$2.json" ] && why="$why domain-file"
    [ -e "$1/domains/$2.ram" ] && why="$why ram"
    ls "$1"/dm-"$2".* "$1/qmp-libxl-$2" > /dev/null 2>&1 && why="$why dm-files"
    pgrep -f "qemu-storage-daemon.*$1/qmp-libxl-$2" > /dev/null && why="$why dm"
    [ -z "$why" ] || { echo "left behind:$why"; return 1; }
}

# ---- hosts ---------------------------------------------------------------
"$FX" host --dir "$A" > "$d/h.out" 2>&1
rcA=$?
"$FX" host --dir "$B" --free-mib 1024 --cpus 8 --xen 4.18.1 --vendor intel \
    >> "$d/h.out" 2>&1
rcB=$?
hb=$(python3 -c 'import json,sys; h=json.load(open(sys.argv[1]));
print(h["xen_major"], h["xen_minor"], h["xen_extra"], h["nr_cpus"], h["free_memory_kib"], h["cpu_vendor"])' "$B/host.json" 2>&1)
if [ $rcA -eq 0 ] && [ $rcB -eq 0 ] &&
   grep -q '"featureset_hvm_max": "178bfbff-' "$A/host.json" &&
   grep -q '"cpu_vendor": "AuthenticAMD"' "$A/host.json" &&
   [ "$hb" = "4 18 .1 8 1048576 GenuineIntel" ]; then
    ok "host: defaults (Xen 4.17.7, AuthenticAMD, featuresets) and the options written"
else
    not_ok "host (exit $rcA, $rcB: $hb)" "$d/h.out" "$A/host.json" "$B/host.json"
fi

"$FX" list --dir "$d/nohost" > "$d/nh.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "XEN_NOT_AVAILABLE: .*$d/nohost" "$d/nh.out"; then
    ok "no host directory: XEN_NOT_AVAILABLE naming it"
else
    not_ok "no host directory (exit $rc)" "$d/nh.out"
fi

# ---- the source domain: its device model and guest ------------------------
IMG=$d/web1.qcow2
qemu-img create -q -f qcow2 "$IMG" 64M
qemu-storage-daemon \
    --blockdev driver=file,node-name=xvda-file,filename="$IMG" \
    --blockdev driver=qcow2,node-name=xvda,file=xvda-file \
    --nbd-server addr.type=unix,addr.path="$d/vm.sock" \
    --export type=nbd,id=xvda,name=xvda,node-name=xvda,writable=on \
    --chardev socket,id=m,path="$d/qmp.sock",server=on,wait=off \
    --monitor chardev=m > "$d/qsd.log" 2>&1 &
qsd_pid=$!
pids+=("$qsd_pid")
for _ in $(seq 100); do
    [ -S "$d/vm.sock" ] && [ -S "$d/qmp.sock" ] && break
    sleep 0.05
done
VMURI="nbd+unix:///xvda?socket=$d/vm.sock"
"$NW" fill --uri "$VMURI" --log "$d/log" --seed 1 --percent 10 > "$d/fill.out" 2>&1
"$NW" run --uri "$VMURI" --log "$d/log" --seed 2 --interval-ms 5 \
    --stop-file "$d/stop" > "$d/writer.out" 2>&1 &
writer_pid=$!
pids+=("$writer_pid")

# 16 MiB of guest RAM: random pages, then zero pages.
RAM=$d/web1.ram
{ head -c $((8 * MiB)) /dev/urandom; head -c $((8 * MiB)) /dev/zero; } > "$RAM"
config "$d/web1.json" web1 "$IMG"
"$FX" create --dir "$A" --name web1 --config "$d/web1.json" \
    --qmp "$d/qmp.sock" --dm-pid "$qsd_pid" --guest-pid "$writer_pid" \
    --ram "$RAM" > "$d/create.out" 2> "$d/create.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$d/create.out")" = 1 ] &&
   [ "$("$FX" list --dir "$A")" = "1 web1 $UUID running" ] &&
   [ "$(member "$A" web1 qmp)" = "$d/qmp.sock" ] &&
   [ "$(member "$A" 1 guest_pid)" = "$writer_pid" ]; then
    ok "create: the domain registered as domid 1, running, with its device model and guest"
else
    not_ok "create (exit $rc)" "$d/create.out" "$d/create.err"
fi

# ---- suspend | restore ------------------------------------------------------
DIMG=$d/web1-dest.qcow2
qemu-img create -q -f qcow2 "$DIMG" 64M
config "$d/dest.json" web1 "$DIMG"
sleep 0.3
{
    "$FX" suspend --dir "$A" web1 --out - 2> "$d/suspend.err"
    echo $? > "$d/suspend.rc"
    printf 'xlmig-ready\n'
} | tee "$d/stream" | {
    "$FX" restore --dir "$B" --config "$d/dest.json" --in - \
        > "$d/restore.out" 2> "$d/restore.err"
    echo $? > "$d/restore.rc"
    cat > "$d/after"
}
src_state=$(pstate "$writer_pid")
lines1=$(wc -l < "$d/log")
if [ "$(cat "$d/suspend.rc")" = 0 ] && [ "$(cat "$d/restore.rc")" = 0 ] &&
   [ "$(cat "$d/restore.out")" = 1 ]; then
    ok "suspend piped into restore: both succeed, the restored domain is domid 1 of host B"
else
    not_ok "suspend | restore" "$d/suspend.err" "$d/restore.err"
fi

if [ "$(cat "$d/after")" = xlmig-ready ] &&
   [ "$(od -An -c "$d/after" | tr -d ' ')" = 'xlmig-ready\n' ]; then
    ok "restore read up to the libxl END and not a byte more: \"xlmig-ready\\n\" was still in the pipe"
else
    not_ok "bytes after the stream: '$(od -An -c "$d/after" | head -2)'" "$d/restore.err"
fi

size=$(stat -c %s "$d/stream")
"$FX" follow --in "$d/stream" > "$d/follow.out" 2>&1
rc=$?
# 4096 pages, a 20% round (819) and a 5% round (204).
if [ $rc -eq 0 ] &&
   [ "$(cat "$d/follow.out")" = "follow: done at byte $((size - 12)) of $size, 5119 pages" ]; then
    ok "xlmig's follower takes the stream whole: its END ends where the control line starts; 5119 pages"
else
    not_ok "follower (exit $rc)" "$d/follow.out"
fi

BRAM=$(member "$B" 1 ram)
if cmp "$RAM" "$BRAM" > "$d/cmp.out" 2>&1 && [ "$(stat -c %s "$BRAM")" = $((16 * MiB)) ]; then
    ok "the restored RAM equals the source's (dirtied by the rounds) byte for byte"
else
    not_ok "RAM compare" "$d/cmp.out"
fi

sleep 0.5
lines2=$(wc -l < "$d/log")
if [ "$("$FX" list --dir "$A")" = "1 web1 $UUID suspended" ] &&
   [ "$src_state" = T ] && [ "$(pstate "$writer_pid")" = T ] &&
   [ "$lines1" = "$lines2" ]; then
    ok "the source is suspended, its guest stopped (no write in 0.5 s)"
else
    not_ok "source after suspend (guest $src_state, log $lines1 then $lines2)" \
        "$d/suspend.err"
    "$FX" list --dir "$A"
fi

DQMP=$(member "$B" 1 qmp)
qmp "$DQMP" query-named-block-nodes '{"flat":true}' > "$d/nodes.out" 2>&1
if [ "$("$FX" list --dir "$B")" = "1 web1 $UUID paused" ] &&
   python3 -c '
import json, sys
n = {x["node-name"]: x for x in json.load(open(sys.argv[1]))}
assert n["xvda"]["drv"] == "qcow2" and n["xvda"]["file"] == sys.argv[2]
assert not n["xvda"]["ro"]' "$d/nodes.out" "$DIMG" &&
   [ "$DQMP" = "$B/qmp-libxl-1" ]; then
    ok "the destination domain is paused; its device model answers QMP with node xvda on the new disk"
else
    not_ok "destination domain and its device model" "$d/nodes.out"
fi

python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["config"]
assert c["c_info"]["name"] == "web1" and c["c_info"]["uuid"] == sys.argv[3]
assert c["disks"][0]["pdev_path"] == sys.argv[2] and c["disks"][0]["backend"] == "qdisk"
assert c["b_info"]["max_memkb"] == 262144 and c["nics"][0]["bridge"] == "xenbr0"
' <("$FX" show --dir "$B" 1) "$DIMG" "$UUID" > "$d/cfg.out" 2>&1
if [ $? -eq 0 ]; then
    ok "the destination keeps the configuration it was given (libxl's JSON)"
else
    not_ok "destination configuration" "$d/cfg.out"
fi

# ---- when the guest stops --------------------------------------------------
"$FX" resume --dir "$A" web1 > "$d/resume.out" 2>&1
rc=$?
sleep 0.3
if [ $rc -eq 0 ] && [ "$("$FX" list --dir "$A")" = "1 web1 $UUID running" ] &&
   [ "$(pstate "$writer_pid")" != T ] && [ "$(wc -l < "$d/log")" -gt "$lines2" ]; then
    ok "resume: running again, the guest writes again"
else
    not_ok "resume (exit $rc, guest $(pstate "$writer_pid"))" "$d/resume.out"
fi

# Slowed (100 ms per MiB) with a big last round: 4096 pages, 20% (819),
# then 50% (2048) after the guest stops.  Samples: size, guest, size.
FIRST=$((4096 * 4096 + 65536))  # past the full pass
STOP=$(((4096 + 819) * 4096))   # pages written before the stop
XLMIG_FAKE_XEN_SUSPEND_MS=100 XLMIG_FAKE_XEN_ROUNDS=20,50 \
    "$FX" suspend --dir "$A" web1 --out "$d/slow" 2> "$d/slow.err" &
sp=$!
: > "$d/samples"
while kill -0 $sp 2> /dev/null; do
    s1=$(stat -c %s "$d/slow" 2> /dev/null || echo 0)
    g=$(pstate "$writer_pid")
    s2=$(stat -c %s "$d/slow" 2> /dev/null || echo 0)
    echo "$s1 $g $s2" >> "$d/samples"
done
wait $sp
rc=$?
F2=$(stat -c %s "$d/slow")
ran=$(awk -v f=$FIRST '$2 != "T" && $1 > f' "$d/samples" | wc -l)
early=$(awk -v s=$STOP '$2 == "T" && $3 < s' "$d/samples" | wc -l)
late=$(awk -v e="$F2" '$2 == "T" && $3 < e' "$d/samples" | wc -l)
if [ $rc -eq 0 ] && [ "$ran" -gt 0 ] && [ "$early" = 0 ] && [ "$late" -gt 0 ] &&
   [ "$("$FX" list --dir "$A")" = "1 web1 $UUID suspended" ]; then
    ok "live suspend: the guest runs during the first dirty round ($ran samples) and is stopped before the last ($late samples)"
else
    not_ok "guest stop (exit $rc; running past the full pass $ran, stopped too early $early, stopped before the end $late)" \
        "$d/slow.err" "$d/samples"
fi
"$FX" resume --dir "$A" web1 > /dev/null 2>&1

# ---- failures that leave nothing ------------------------------------------
config "$d/bad.json" web2 "$d/no-such-disk.qcow2"
"$FX" restore --dir "$B" --config "$d/bad.json" --in "$d/stream" \
    > "$d/bad.out" 2> "$d/bad.err"
rc=$?
why=$(nothing_left "$B" 2)
if [ $rc -eq 1 ] && grep -q "XEN_CALL_FAILED: .*disk xvda ($d/no-such-disk.qcow2) does not open" "$d/bad.err" &&
   [ -z "$why" ] && [ "$("$FX" list --dir "$B")" = "1 web1 $UUID paused" ]; then
    ok "restore with a missing disk: fails after the stream naming the disk, leaves nothing"
else
    not_ok "restore with a missing disk (exit $rc) $why" "$d/bad.err"
fi

config "$d/web3.json" web3 "$DIMG"
head -c $((4 * MiB)) "$d/stream" | "$FX" restore --dir "$B" \
    --config "$d/web3.json" --in - > "$d/cut.out" 2> "$d/cut.err"
rc=${PIPESTATUS[1]}
why=$(nothing_left "$B" 3)
if [ $rc -eq 1 ] && grep -q "ended at byte $((4 * MiB)), before its libxl END" "$d/cut.err" &&
   [ -z "$why" ]; then
    ok "restore of a stream cut at 4 MiB: fails naming the byte, leaves nothing"
else
    not_ok "restore of a cut stream (exit $rc) $why" "$d/cut.err"
fi

# ---- a reader that goes away ------------------------------------------------
XLMIG_FAKE_XEN_SUSPEND_MS=20 "$FX" suspend --dir "$A" web1 --out - 2> "$d/ep1.err" |
    head -c $MiB > /dev/null
rc=${PIPESTATUS[0]}
sleep 0.2
if [ $rc -eq 1 ] && grep -q 'IO_ERROR: saving domain 1 (web1): writing the migration stream failed at byte .*reader went away' "$d/ep1.err" &&
   [ "$("$FX" list --dir "$A")" = "1 web1 $UUID running" ] &&
   [ "$(pstate "$writer_pid")" != T ]; then
    ok "reader gone during the full pass: IO_ERROR, the domain still running"
else
    not_ok "reader gone early (exit $rc, guest $(pstate "$writer_pid"))" "$d/ep1.err"
fi

# Gone 2 MiB before the end of a stream whose last round is 8 MiB.
XLMIG_FAKE_XEN_SUSPEND_MS=5 XLMIG_FAKE_XEN_ROUNDS=20,50 \
    "$FX" suspend --dir "$A" web1 --out - 2> "$d/ep2.err" |
    head -c $((F2 - 2 * MiB)) > /dev/null
rc=${PIPESTATUS[0]}
st=$("$FX" list --dir "$A")
g=$(pstate "$writer_pid")
"$FX" resume --dir "$A" web1 > "$d/ep2r.out" 2>&1
rrc=$?
n1=$(wc -l < "$d/log")
sleep 0.3
if [ $rc -eq 1 ] && grep -q 'IO_ERROR: .*reader went away' "$d/ep2.err" &&
   [ "$st" = "1 web1 $UUID suspended" ] && [ "$g" = T ] && [ $rrc -eq 0 ] &&
   [ "$("$FX" list --dir "$A")" = "1 web1 $UUID running" ] &&
   [ "$(wc -l < "$d/log")" -gt "$n1" ]; then
    ok "reader gone in the last round: IO_ERROR, the domain suspended; resume runs it and its guest again"
else
    not_ok "reader gone late (exit $rc, '$st', guest $g, resume $rrc)" "$d/ep2.err" "$d/ep2r.out"
fi

# ---- pause, unpause, rename -------------------------------------------------
g1="" g2="" s1=""
"$FX" pause --dir "$A" web1 > "$d/p.out" 2>&1 && g1=$(pstate "$writer_pid") &&
    s1=$("$FX" list --dir "$A") &&
    "$FX" unpause --dir "$A" 1 >> "$d/p.out" 2>&1 && g2=$(pstate "$writer_pid") &&
    "$FX" rename --dir "$A" "$UUID" web1--migratedaway >> "$d/p.out" 2>&1
rc=$?
"$FX" unpause --dir "$A" 1 > "$d/up.out" 2>&1
urc=$?
if [ $rc -eq 0 ] && [ "$g1" = T ] && [ "$s1" = "1 web1 $UUID paused" ] &&
   [ "$g2" != T ] && [ $urc -eq 1 ] && grep -q 'cannot unpause domain 1 (web1--migratedaway): it is running' "$d/up.out" &&
   [ "$("$FX" list --dir "$A")" = "1 web1--migratedaway $UUID running" ] &&
   "$FX" show --dir "$A" 1 | grep -q '"name": "web1--migratedaway"'; then
    ok "pause stops the guest, unpause runs it (not twice), rename changes the name and c_info.name"
else
    not_ok "pause/unpause/rename (exit $rc, guest $g1 then $g2, unpause again $urc)" "$d/p.out" "$d/up.out"
fi

# ---- destroy ----------------------------------------------------------------
dm=$(member "$B" 1 dm_pid)
"$FX" destroy --dir "$B" web1 > "$d/d1.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(pstate "$dm")" = gone ] && [ -z "$(nothing_left "$B" 1)" ] &&
   [ -z "$("$FX" list --dir "$B")" ]; then
    ok "destroy: the destination's device model (pid $dm) stopped, its sockets, RAM and file gone"
else
    not_ok "destroy on B (exit $rc)" "$d/d1.out"
fi

disown "$writer_pid" "$qsd_pid"   # killed by destroy: no job report
"$FX" destroy --dir "$A" 1 > "$d/d2.out" 2>&1
rc=$?
sleep 0.2
if [ $rc -eq 0 ] && [ "$(pstate "$qsd_pid")" = gone ] &&
   [ "$(pstate "$writer_pid")" = gone ] && [ -f "$RAM" ] &&
   [ ! -e "$A/domains/1.json" ]; then
    ok "destroy of the registered domain: its QEMU and guest process stopped, the caller's RAM file kept"
else
    not_ok "destroy on A (exit $rc, guest $(pstate "$writer_pid"))" "$d/d2.out"
fi
writer_pid=""
qsd_pid=""

# ---- boot (the create operation) ---------------------------------------------
config "$d/boot.json" web4 "$DIMG"
"$FX" boot --dir "$B" --config "$d/boot.json" > "$d/boot.out" 2> "$d/boot.err"
rc=$?
id=$(cat "$d/boot.out")
bq=$(member "$B" web4 qmp 2> /dev/null)
qmp "$bq" query-named-block-nodes '{"flat":true}' > "$d/bn.out" 2>&1
if [ $rc -eq 0 ] && [ "$id" = 4 ] &&
   [ "$("$FX" list --dir "$B")" = "4 web4 $UUID running" ] &&
   grep -q '"node-name": "xvda"' "$d/bn.out" &&
   [ "$(stat -c %s "$(member "$B" 4 ram)")" = $((64 * MiB)) ] &&
   cp "$B/domains/4.json" "$d/good.json" &&
   "$FX" destroy --dir "$B" web4 > /dev/null 2>&1 && [ -z "$(nothing_left "$B" 4)" ]; then
    ok "boot: domid 4 (1 to 3 used before), running, its device model answers; destroy leaves nothing"
else
    not_ok "boot (exit $rc, domid $id)" "$d/boot.err" "$d/bn.out"
fi

# ---- a malformed domain file ---------------------------------------------------
printf '{"domid": 9, "name": "x"' > "$B/domains/9.json"
"$FX" list --dir "$B" > "$d/mal.out" 2>&1
rc=$?
sed -e 's/"domid": 4,/"domid": 9,/' -e 's/"state": "running"/"state": "sleeping"/' \
    "$d/good.json" > "$B/domains/9.json"
"$FX" list --dir "$B" > "$d/mal2.out" 2>&1
rc2=$?
rm -f "$B/domains/9.json"
if [ $rc -eq 1 ] && grep -q "fake-xen domain file $B/domains/9.json" "$d/mal.out" &&
   [ $rc2 -eq 1 ] && grep -q "$B/domains/9.json: member \"state\" is \"sleeping\"" "$d/mal2.out"; then
    ok "a malformed domain file is an error naming it (and the member)"
else
    not_ok "malformed domain file (exit $rc, $rc2)" "$d/mal.out" "$d/mal2.out"
fi

# ---- arguments --------------------------------------------------------------------
args_ok=0
for a in "" "frobnicate" "list" "list --dir" "list --dir $B extra" \
         "suspend --dir $B 1" "create --dir $B --name x" \
         "host --dir $B --cpus 0" "host --dir $B --xen four" \
         "restore --dir $B --in x" "rename --dir $B 1" "follow"; do
    "$FX" $a > "$d/arg.out" 2>&1
    rc=$?
    if [ $rc -ne 2 ] || { [ -n "$a" ] && [ "$(wc -l < "$d/arg.out")" != 1 ]; }; then
        { echo "'$a': exit $rc"; cat "$d/arg.out"; } >> "$d/args.err"
        args_ok=1
    fi
done
for c in host create boot list show destroy suspend restore resume pause \
         unpause rename follow; do
    "$FX" $c --help > "$d/help.out" 2>&1 && grep -q "^usage: fake-xen $c " "$d/help.out" ||
        { echo "$c --help" >> "$d/args.err"; args_ok=1; }
done
if [ $args_ok -eq 0 ]; then
    ok "bad arguments: exit 2 with one line; --help of every command"
else
    not_ok "arguments" "$d/args.err"
fi

finish
