#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# End-to-end tests of the storage commands with the real qemu-img:
#   xlmig-xe sr-create | sr-list | vdi-create | vdi-list | vdi-destroy |
#            vdi-param-set | vbd-create | vbd-list | vbd-destroy |
#            sr-forget
# in xe's grammar (--minimal, params=, --help), sizes as qemu-img reports
# them, and the refusals (bad size, unknown SR, '..' in a path, a VDI
# in use by a lock file or another VM, a duplicate device, a qemu-img
# that fails) leaving nothing behind.
# Ends with "integration-sr: N passed, N failed".
#
# Environment: XLMIG_XE_BIN (default build/san/xlmig-xe), XLMIG_BUILDDIR,
# XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"

d=$(mktemp -d /tmp/xlmig-sr.XXXXXX)
LABEL=integration-sr
. "$here/lib.sh"

if [ ! -x "$XE" ] || ! command -v qemu-img > /dev/null; then
    echo "missing $XE or qemu-img: run make (and scripts/install-deps.sh)"
    failed=1
    finish
fi

export XLMIG_STATE_DIR=$d/state
unset XLMIG_QEMU_IMG

# ---- sr-create ----------------------------------------------------------
SR=$("$XE" sr-create name-label=local type=file device-config:path="$d/sr1" 2> "$d/c.err")
rc=$?
if [ $rc -eq 0 ] && [[ $SR =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] &&
   [ -d "$d/sr1" ] && [ -f "$d/state/srs/$SR.json" ] &&
   grep -q '"VDI_MIRROR_IN"' "$d/state/srs/$SR.json"; then
    ok "sr-create: prints a v4 uuid, registers STATE/srs/UUID.json, makes the directory"
else
    not_ok "sr-create (exit $rc, '$SR')" "$d/c.err"
fi
SR2=$("$XE" sr-create name-label=other device-config:path="$d/sr2" capabilities=VDI_SNAPSHOT 2>&1)

# ---- sr-list ------------------------------------------------------------
"$XE" sr-list > "$d/srl.out" 2>&1
if grep -q "^uuid *( RO): $SR\$" "$d/srl.out" &&
   grep -q "name-label ( RO): local$" "$d/srl.out" &&
   grep -q "path ( RO): $d/sr1\$" "$d/srl.out" &&
   grep -q 'capabilities ( RO): VDI_SNAPSHOT; VDI_MIRROR; VDI_MIRROR_IN$' "$d/srl.out" &&
   grep -q 'capabilities ( RO): VDI_SNAPSHOT$' "$d/srl.out" &&
   grep -Eq 'free-space \( RO\): [1-9][0-9]*$' "$d/srl.out" &&
   grep -Eq 'physical-size \( RO\): [1-9][0-9]*$' "$d/srl.out"; then
    ok "sr-list: both SRs with path, capabilities and space"
else
    not_ok "sr-list" "$d/srl.out"
fi
min=$("$XE" sr-list --minimal 2>&1)
one=$("$XE" sr-list name-label=local params=path --minimal 2>&1)
if [ "$min" = "$SR2,$SR" ] || [ "$min" = "$SR,$SR2" ] && [ "$one" = "$d/sr1" ]; then
    ok "sr-list --minimal: uuids on one line; params=path name-label=local"
else
    not_ok "sr-list --minimal ('$min', '$one')"
fi

# --json: an array of objects, params= its keys, numbers as numbers, and a
# path with a quote and a backslash escaped by the generator.
QP="$d/q\"uo\\te"
SR3=$("$XE" sr-create name-label=quoted device-config:path="$QP" 2>&1)
"$XE" sr-list --json > "$d/srj.out" 2> "$d/srj.err"
rc=$?
"$XE" sr-list --json name-label=quoted params=path,free-space > "$d/srj1.out" 2>&1
"$XE" sr-list --json --minimal > "$d/srjm.out" 2>&1
rcm=$?
if [ $rc -eq 0 ] && [ $rcm -eq 2 ] && grep -q 'one or the other' "$d/srjm.out" &&
   python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
one = json.load(open(sys.argv[2]))
by = {r["name-label"]: r for r in a}
assert len(a) == 3, a
assert by["local"]["uuid"] == sys.argv[3] and by["local"]["type"] == "file"
assert by["quoted"]["path"] == sys.argv[4], by["quoted"]
assert isinstance(by["local"]["free-space"], int) and by["local"]["free-space"] > 0
assert by["other"]["capabilities"] == "VDI_SNAPSHOT"
assert one == [{"path": sys.argv[4], "free-space": one[0]["free-space"]}], one
assert list(one[0]) == ["path", "free-space"]
' "$d/srj.out" "$d/srj1.out" "$SR" "$QP" 2> "$d/srj.py"; then
    ok "sr-list --json: every SR, numbers as numbers, a path with \" and \\ escaped; params= its keys; not with --minimal"
else
    not_ok "sr-list --json (exit $rc, $rcm)" "$d/srj.out" "$d/srj1.out" "$d/srj.err" "$d/srj.py" "$d/srjm.out"
fi
"$XE" sr-forget uuid="$SR3" > /dev/null 2>&1

# ---- vdi-create and vdi-list -------------------------------------------
Q=$("$XE" vdi-create sr-uuid="$SR" name-label=disk-q virtual-size=10GiB 2> "$d/q.err")
rcq=$?
R=$("$XE" vdi-create sr-uuid=local name-label=disk-r virtual-size=16M format=raw 2> "$d/r.err")
rcr=$?
if [ $rcq -eq 0 ] && [ $rcr -eq 0 ] && [ -f "$d/sr1/$Q.qcow2" ] &&
   [ -f "$d/sr1/$Q.json" ] && [ -f "$d/sr1/$R.raw" ] &&
   [ "$(qemu-img info --output=json -f qcow2 "$d/sr1/$Q.qcow2" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')" = 10737418240 ]; then
    ok "vdi-create: a 10 GiB qcow2 (by SR uuid) and a 16 MiB raw (by SR name)"
else
    not_ok "vdi-create (exit $rcq, $rcr)" "$d/q.err" "$d/r.err"
fi
"$XE" vdi-list sr-uuid="$SR" > "$d/vl.out" 2>&1
phys=$("$XE" vdi-list uuid="$Q" params=physical-utilisation --minimal 2>&1)
if grep -q "virtual-size ( RO): 10737418240$" "$d/vl.out" &&
   grep -q "virtual-size ( RO): 16777216$" "$d/vl.out" &&
   grep -q "format ( RO): raw$" "$d/vl.out" &&
   grep -q "on-boot ( RO): persist$" "$d/vl.out" &&
   grep -q "sr-uuid ( RO): $SR\$" "$d/vl.out" &&
   [ "$phys" -gt 0 ] 2>/dev/null && [ "$phys" -lt 4194304 ]; then
    ok "vdi-list: virtual sizes exact, a fresh qcow2 allocates little ($phys bytes)"
else
    not_ok "vdi-list (physical '$phys')" "$d/vl.out"
fi
names=$("$XE" vdi-list params=name-label --minimal 2>&1)
rec=$("$XE" vdi-list name-label=disk-r params=format,virtual-size 2>&1)
if [ "$names" = "disk-q,disk-r" ] &&
   [ "$(printf '%s\n' "$rec" | grep -c 'RO')" = 2 ] &&
   printf '%s\n' "$rec" | grep -q '^format *( RO): raw$'; then
    ok "vdi-list params= and --minimal"
else
    not_ok "vdi-list params= ('$names')"
fi
"$XE" vdi-list --json name-label=disk-r > "$d/vj.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1, a
r = a[0]
assert r["uuid"] == sys.argv[2] and r["name-label"] == "disk-r", r
assert r["virtual-size"] == 16777216 and r["format"] == "raw", r
assert r["sharable"] is False and r["encrypted"] is False and r["vbds"] == 0, r
' "$d/vj.out" "$R" 2> "$d/vj.py"; then
    ok "vdi-list --json: sizes and counts as numbers, flags as true/false"
else
    not_ok "vdi-list --json (exit $rc)" "$d/vj.out" "$d/vj.py"
fi
"$XE" vdi-list params=nosuch > "$d/np.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "unknown field 'nosuch'" "$d/np.out"; then
    ok "vdi-list params= with an unknown field: refused"
else
    not_ok "vdi-list params=nosuch (exit $rc)" "$d/np.out"
fi

# ---- refusals -----------------------------------------------------------
check_refusal() {   # TEXT EXIT PATTERN ARGS...
    local text=$1 want=$2 pat=$3
    shift 3
    "$XE" "$@" > "$d/ref.out" 2>&1
    local rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$pat" "$d/ref.out"; then
        ok "$text"
    else
        not_ok "$text (exit $rc)" "$d/ref.out"
    fi
}
before=$(ls "$d/sr1" | wc -l)
check_refusal "vdi-create virtual-size=0 refused" 1 'INVALID_VALUE: virtual size "0" is zero' \
    vdi-create sr-uuid=local name-label=z virtual-size=0
check_refusal "vdi-create virtual-size=abc refused" 1 'is not a size' \
    vdi-create sr-uuid=local name-label=z virtual-size=abc
check_refusal "vdi-create virtual-size=65T refused" 1 'more than the 64 TiB' \
    vdi-create sr-uuid=local name-label=z virtual-size=65T
check_refusal "vdi-create name-label with a slash refused" 1 'VDI name "a/b"' \
    vdi-create sr-uuid=local name-label=a/b virtual-size=1M
check_refusal "vdi-create in an unknown SR: NOT_FOUND, says how to list" 1 'NOT_FOUND: no SR "nosuch".*sr-list' \
    vdi-create sr-uuid=nosuch name-label=z virtual-size=1M
check_refusal "vdi-create without virtual-size: usage" 2 'MISSING_PARAMETER: vdi-create needs virtual-size=' \
    vdi-create sr-uuid=local name-label=z
check_refusal "vdi-create format=vmdk refused" 1 'format "vmdk"' \
    vdi-create sr-uuid=local name-label=z virtual-size=1M format=vmdk
check_refusal "sr-create with '..' in the path refused" 1 'SR path .* component' \
    sr-create name-label=dots device-config:path="$d/sr1/../x"
check_refusal "sr-create with a relative path refused" 1 'not absolute' \
    sr-create name-label=rel device-config:path=rel/dir
check_refusal "sr-create type=lvm refused" 1 'NOT_SUPPORTED.*"file"' \
    sr-create name-label=lvm type=lvm device-config:path="$d/lvm"
check_refusal "sr-create of a name in use refused" 1 'named local already' \
    sr-create name-label=local device-config:path="$d/sr9"
check_refusal "sr-create unknown key refused" 2 "unknown argument 'device-config:bogus='" \
    sr-create name-label=x device-config:bogus=1
cat > "$d/fake-qemu-img" <<'EOF'
#!/bin/sh
for a; do prev=$last; last=$a; done
echo partial > "$prev"
echo "qemu-img: simulated failure" >&2
exit 1
EOF
chmod +x "$d/fake-qemu-img"
XLMIG_QEMU_IMG=$d/fake-qemu-img "$XE" vdi-create sr-uuid=local name-label=z virtual-size=1M > "$d/fq.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'simulated failure' "$d/fq.out" &&
   [ "$(ls "$d/sr1" | wc -l)" = "$before" ]; then
    ok "a failing qemu-img: its message shown, nothing left in the SR"
else
    not_ok "failing qemu-img (exit $rc)" "$d/fq.out"
fi

# ---- VBDs and vdi-param-set --------------------------------------------
if "$XE" vbd-create vm=web1 vdi-uuid="$Q" device=xvda > "$d/vb.out" 2>&1 &&
   grep -q '"vbds"' "$d/sr1/$Q.json" && ! grep -q '"vbds"' "$d/sr1/$R.json" &&
   [ "$("$XE" vbd-list vm=web1 --minimal 2>&1)" = "$Q" ]; then
    ok "vbd-create: recorded in the VDI's metadata; vbd-list --minimal gives the VDI"
else
    not_ok "vbd-create" "$d/vb.out"
fi
check_refusal "vbd-create of a non-sharable VDI for another VM: VDI_IN_USE naming the VM" 1 \
    "VDI_IN_USE: VDI disk-q ($Q) in SR local is used by VM web1 (as xvda) and is not sharable" \
    vbd-create vm=web2 vdi-uuid="$Q" device=xvda
check_refusal "vbd-create of a device the VM has: refused" 1 'INVALID_VALUE: VM web1 has device xvda already: VDI disk-q' \
    vbd-create vm=web1 vdi-uuid="$R" device=xvda
check_refusal "vbd-create with a bad device: refused" 1 'device "nvme0n1" is not a device name' \
    vbd-create vm=web1 vdi-uuid="$R" device=nvme0n1
check_refusal "vbd-create without device=: usage" 2 'MISSING_PARAMETER: vbd-create needs device=' \
    vbd-create vm=web1 vdi-uuid="$R"
"$XE" vbd-create vm=web1 vdi-uuid="$R" device=xvdb > "$d/vb2.out" 2>&1
"$XE" vbd-list > "$d/vbl.out" 2>&1
devs=$("$XE" vbd-list vm=web1 params=device --minimal 2>&1)
if [ "$devs" = "xvda,xvdb" ] &&
   grep -q "^vm *( RO): web1$" "$d/vbl.out" &&
   grep -q "vdi-uuid ( RO): $R\$" "$d/vbl.out" &&
   grep -q "vdi-name-label ( RO): disk-q$" "$d/vbl.out" &&
   grep -q "sr-uuid ( RO): $SR\$" "$d/vbl.out" &&
   [ "$(grep -c '^vm ' "$d/vbl.out")" = 2 ]; then
    ok "vbd-list: one record per VBD (vm, device, vdi-uuid, vdi-name-label, sr-uuid); params=device"
else
    not_ok "vbd-list ('$devs')" "$d/vbl.out" "$d/vb2.out"
fi
"$XE" vbd-list vm=web1 --json params=device,vdi-uuid > "$d/vbj.out" 2>&1
if python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert sorted(a, key=lambda r: r["device"]) == [
    {"device": "xvda", "vdi-uuid": sys.argv[2]},
    {"device": "xvdb", "vdi-uuid": sys.argv[3]}], a
' "$d/vbj.out" "$Q" "$R" 2> "$d/vbj.py"; then
    ok "vbd-list --json params=device,vdi-uuid"
else
    not_ok "vbd-list --json" "$d/vbj.out" "$d/vbj.py"
fi
check_refusal "vdi-destroy of a VDI a VM has: VDI_IN_USE naming the VM" 1 \
    "VDI_IN_USE: VDI disk-q ($Q) in SR local is in use: VM web1 has it as xvda" \
    vdi-destroy uuid="$Q"
if "$XE" vdi-param-set uuid="$Q" sharable=true > "$d/ps.out" 2>&1 &&
   "$XE" vbd-create vm=web2 vdi-uuid="$Q" device=xvdc >> "$d/ps.out" 2>&1 &&
   [ "$("$XE" vdi-list uuid="$Q" params=sharable,vbds --minimal 2>&1)" = "true,2" ] &&
   [ "$("$XE" vbd-list vdi-uuid="$Q" params=vm --minimal 2>&1)" = "web1,web2" ]; then
    ok "vdi-param-set sharable=true: a second VM may use the VDI"
else
    not_ok "vdi-param-set sharable=true" "$d/ps.out"
fi
check_refusal "vdi-param-set sharable=false while two VMs have it: VDI_IN_USE" 1 \
    'VDI_IN_USE: .*used by 2 VMs (web1, web2)' \
    vdi-param-set uuid="$Q" sharable=false
if "$XE" vdi-param-set uuid="$Q" on-boot=reset cbt-enabled=true encrypted=true > "$d/ps2.out" 2>&1 &&
   [ "$("$XE" vdi-list uuid="$Q" params=on-boot,cbt-enabled,encrypted,sharable --minimal 2>&1)" = "reset,true,true,true" ] &&
   grep -q '"on_boot": "reset"' "$d/sr1/$Q.json" &&
   "$XE" vdi-param-set uuid="$Q" on-boot=persist cbt-enabled=false encrypted=false >> "$d/ps2.out" 2>&1 &&
   [ "$("$XE" vdi-list uuid="$Q" params=on-boot,cbt-enabled,encrypted --minimal 2>&1)" = "persist,false,false" ]; then
    ok "vdi-param-set on-boot=, cbt-enabled=, encrypted=: set and cleared"
else
    not_ok "vdi-param-set flags" "$d/ps2.out"
fi
check_refusal "vdi-param-set on-boot=keep: usage" 2 'INVALID_VALUE: on-boot= is persist or reset' \
    vdi-param-set uuid="$Q" on-boot=keep
check_refusal "vdi-param-set encrypted=yes: usage" 2 'INVALID_VALUE: encrypted= is true or false' \
    vdi-param-set uuid="$Q" encrypted=yes
check_refusal "vdi-param-set without a flag: usage" 2 'MISSING_PARAMETER: vdi-param-set needs one of' \
    vdi-param-set uuid="$Q"
if "$XE" vbd-destroy vm=web2 vdi-uuid="$Q" > "$d/vd2.out" 2>&1 &&
   "$XE" vbd-destroy vm=web1 vdi-uuid="$Q" >> "$d/vd2.out" 2>&1 &&
   "$XE" vbd-destroy vm=web1 vdi-uuid="$R" >> "$d/vd2.out" 2>&1 &&
   [ "$("$XE" vbd-list --minimal 2>&1)" = "" ] &&
   ! grep -q '"vbds"' "$d/sr1/$Q.json" &&
   "$XE" vdi-param-set uuid="$Q" sharable=false >> "$d/vd2.out" 2>&1; then
    ok "vbd-destroy: the VBDs gone, the metadata as before; sharable=false again"
else
    not_ok "vbd-destroy" "$d/vd2.out"
fi
check_refusal "vbd-destroy of a VBD that is not there: NOT_FOUND" 1 'NOT_FOUND: VM web1 has no VBD on VDI disk-q' \
    vbd-destroy vm=web1 vdi-uuid="$Q"

# ---- vdi-destroy --------------------------------------------------------
: > "$d/sr1/$Q.lock"
check_refusal "vdi-destroy of a VDI in use (lock file): VDI_IN_USE" 1 "VDI_IN_USE: VDI disk-q ($Q)" \
    vdi-destroy uuid="$Q"
rm -f "$d/sr1/$Q.lock"
if [ -f "$d/sr1/$Q.qcow2" ] && "$XE" vdi-destroy uuid="$Q" > "$d/vd.out" 2>&1 &&
   [ ! -e "$d/sr1/$Q.qcow2" ] && [ ! -e "$d/sr1/$Q.json" ] &&
   [ "$("$XE" vdi-list --minimal 2>&1)" = "$R" ]; then
    ok "vdi-destroy: image and metadata gone, the other VDI stays"
else
    not_ok "vdi-destroy" "$d/vd.out"
fi
check_refusal "vdi-destroy of an unknown VDI: NOT_FOUND" 1 'NOT_FOUND: no VDI' \
    vdi-destroy uuid="$Q"

# ---- sr-forget ----------------------------------------------------------
if "$XE" sr-forget uuid="$SR2" > "$d/f.out" 2>&1 &&
   [ "$("$XE" sr-list --minimal 2>&1)" = "$SR" ] && [ -d "$d/sr2" ]; then
    ok "sr-forget: unregistered, the directory stays"
else
    not_ok "sr-forget" "$d/f.out"
fi

# ---- --help -------------------------------------------------------------
h=0
for c in sr-create sr-forget sr-list vdi-create vdi-destroy vdi-list \
         vdi-param-set vbd-create vbd-destroy vbd-list; do
    "$XE" $c --help > "$d/h.out" 2>&1 && grep -q "state-dir=DIR" "$d/h.out" || h=1
done
for c in sr-list vdi-list vbd-list; do
    "$XE" $c --help 2>&1 | grep -q -- "--json" || h=1
done
if [ $h -eq 0 ] && "$XE" --help | grep -q '^  vdi-create  *Create an empty VDI$' &&
   "$XE" --help | grep -q '^  vbd-list  *List which VMs use which VDIs$'; then
    ok "--help of every storage command (listings with --json), each with its summary in the overview"
else
    not_ok "--help" "$d/h.out"
fi

finish
