#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# End-to-end tests of the CPU commands without a hypervisor: records
# crafted as other hosts would write them, then
#   xlmig-xe host-cpu-info cpuid=true | host-cpu-import | pool-cpu-info |
#            vm-cpu-check records-only=true
#   xlmig channel-send --vm -> channel-listen --cpu-record (fake-xl):
#            refused naming the missing feature, or accepted and the VM's
#            record carried to the destination's state directory
# Ends with "integration-cpu: N passed, N failed".
#
# Environment: XLMIG_BIN, XLMIG_XE_BIN (default build/san/...),
# XLMIG_BUILDDIR (default build), XLMIG_SRCDIR (default: the repository).
set -u

. "$(dirname "$0")/paths.sh"
FAKEXL=$bld/tests/tools/fake-xl

d=$(mktemp -d /tmp/xlmig-cpu.XXXXXX)
LABEL=integration-cpu
. "$here/lib.sh"

for f in "$XLMIG" "$XE" "$FAKEXL"; do
    if [ ! -x "$f" ]; then
        echo "missing $f: run make first"
        failed=1
        finish
    fi
done

export XLMIG_STATE_DIR=$d/state
export FAKE_XL_LOG=$d/fake-xl.log
S=$d/state

# Featuresets as an AMD host reports them; h2 lacks lahf_lm (word 3 bit 0)
# and sse4a (word 3 bit 6), which h1 has.
FS1=178bf3fd-80002001-2193fbfd-000001c7
FS2=178bf3fd-80002001-2193fbfd-00000186
host_json() {   # NAME VENDOR HVM_MAX
    printf '{"version":1,"kind":"host","name":"%s","vendor":"%s","pv_max":"%s","hvm_max":"%s","recorded":1763769600}\n' \
        "$1" "$2" "$3" "$3"
}
host_json h1 AuthenticAMD $FS1 > "$d/h1.json"
host_json h2 AuthenticAMD $FS2 > "$d/h2.json"
host_json h3 GenuineIntel $FS1 > "$d/h3.json"
mkdir -p "$S/vms"
printf '{"version":1,"kind":"vm","name":"web1","uuid":"","type":"hvm","vendor":"AuthenticAMD","features":"%s","host":"h1","recorded":1763769600}\n' \
    $FS1 > "$S/vms/web1.json"

# ---- this CPU's own CPUID, labelled -------------------------------------
if "$XE" host-cpu-info cpuid=true > "$d/cpuid.out" 2>&1 &&
   grep -q "source ( RO): this CPU's own CPUID, not Xen's view" "$d/cpuid.out" &&
   grep -Eq 'features_names \( RO\): fpu, ' "$d/cpuid.out"; then
    ok "host-cpu-info cpuid=true: labelled as the CPU's own view, with names"
else
    not_ok "host-cpu-info cpuid=true" "$d/cpuid.out"
fi

# ---- without Xen: one clear sentence ------------------------------------
"$XE" host-cpu-info > "$d/noxen.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'XEN_NOT_AVAILABLE: the Xen hypervisor is not available' "$d/noxen.out"; then
    ok "host-cpu-info without Xen: XEN_NOT_AVAILABLE, exit 1"
else
    not_ok "host-cpu-info without Xen (exit $rc)" "$d/noxen.out"
fi

# ---- records in, pool level out -----------------------------------------
if [ "$("$XE" host-cpu-import file="$d/h1.json" 2>&1)" = h1 ] &&
   [ "$("$XE" host-cpu-import file="$d/h2.json" 2>&1)" = h2 ] &&
   [ -f "$S/hosts/h1.json" ] && [ -f "$S/hosts/h2.json" ]; then
    ok "host-cpu-import stores both records"
else
    not_ok "host-cpu-import" "$S/hosts/h1.json"
fi
"$XE" pool-cpu-info > "$d/pool.out" 2>&1
if grep -q "features_hvm ( RO): $FS2\$" "$d/pool.out" &&
   grep -q 'hosts *( RO): h1,h2$' "$d/pool.out" &&
   [ "$("$XE" pool-cpu-info host=h2 params=lowers_hvm --minimal)" = "lahf_lm, sse4a" ] &&
   [ -z "$("$XE" pool-cpu-info host=h1 params=lowers_hvm --minimal)" ]; then
    ok "pool-cpu-info: the level is the intersection; h2 lowers it by lahf_lm, sse4a"
else
    not_ok "pool-cpu-info" "$d/pool.out"
fi

# ---- a host that has not joined yet -------------------------------------
rm -f "$S/hosts/h2.json"
"$XE" pool-cpu-info file="$d/h2.json" > "$d/join.out" 2>&1
rc=$?
"$XE" pool-cpu-info file="$d/h3.json" > "$d/join3.out" 2>&1
rc3=$?
"$XE" host-cpu-import file="$d/h2.json" > /dev/null 2>&1
if [ $rc -eq 0 ] && grep -q 'lowers_hvm ( RO): lahf_lm, sse4a$' "$d/join.out" &&
   [ $rc3 -eq 1 ] && grep -q 'HOSTS_NOT_HOMOGENEOUS' "$d/join3.out"; then
    ok "pool-cpu-info file=: a joining host's lowering, or its other vendor, before it joins"
else
    not_ok "pool-cpu-info file= (exit $rc, $rc3)" "$d/join.out" "$d/join3.out"
fi

# ---- a different vendor cannot join the level ---------------------------
"$XE" host-cpu-import file="$d/h3.json" > /dev/null 2>&1
"$XE" pool-cpu-info > "$d/mixed.out" 2>&1
rc=$?
rm -f "$S/hosts/h3.json"
if [ $rc -eq 1 ] && grep -q 'HOSTS_NOT_HOMOGENEOUS: .*GenuineIntel' "$d/mixed.out"; then
    ok "pool-cpu-info refuses hosts of two vendors, naming them"
else
    not_ok "pool-cpu-info with an Intel host among AMD ones (exit $rc)" "$d/mixed.out"
fi

# ---- a bad record is refused, naming the member --------------------------
sed 's/"hvm_max":"[^"]*"/"hvm_max":"fgfg-1234"/' "$d/h2.json" > "$d/bad.json"
"$XE" host-cpu-import file="$d/bad.json" > "$d/bad.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'CPU_RECORD_INVALID: .*hvm_max' "$d/bad.out" &&
   grep -q 'fgfg' "$d/bad.out" &&
   [ "$("$XE" host-cpu-info host=h2 params=features_hvm_max --minimal)" = $FS2 ]; then
    ok "host-cpu-import of a malformed record: refused naming hvm_max, old record kept"
else
    not_ok "host-cpu-import of a malformed record (exit $rc)" "$d/bad.out"
fi

# ---- vm-cpu-check from the records ---------------------------------------
"$XE" vm-cpu-check vm=web1 host=h1 records-only=true > "$d/c1.out" 2>&1
rc1=$?
"$XE" vm-cpu-check vm=web1 host=h2 records-only=true > "$d/c2.out" 2>&1
rc2=$?
"$XE" vm-cpu-check vm=web1 host=h2 records-only=true force=true > "$d/c3.out" 2>&1
rc3=$?
if [ $rc1 -eq 0 ] && grep -q 'VM web1 can run on host h1' "$d/c1.out"; then
    ok "vm-cpu-check: web1 may go to h1"
else
    not_ok "vm-cpu-check web1 -> h1 (exit $rc1)" "$d/c1.out"
fi
if [ $rc2 -eq 1 ] &&
   grep -q 'VM_INCOMPATIBLE_WITH_THIS_HOST: VM web1 cannot run on host h2: lahf_lm, sse4a missing on host h2' "$d/c2.out" &&
   grep -q "The level of the 2 known hosts (HVM max): $FS2" "$d/c2.out" &&
   grep -q 'it has lahf_lm, sse4a beyond it' "$d/c2.out"; then
    ok "vm-cpu-check: web1 refused for h2, naming lahf_lm, sse4a and the pool level"
else
    not_ok "vm-cpu-check web1 -> h2 (exit $rc2)" "$d/c2.out"
fi
if [ $rc3 -eq 0 ] && grep -q 'force=true: not refused' "$d/c3.out"; then
    ok "vm-cpu-check force=true: not refused, says what is missing"
else
    not_ok "vm-cpu-check force=true (exit $rc3)" "$d/c3.out"
fi
"$XE" vm-cpu-check vm=web1 host=h2 > "$d/c4.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'XEN_NOT_AVAILABLE' "$d/c4.out"; then
    ok "vm-cpu-check without records-only needs Xen (is the VM running?)"
else
    not_ok "vm-cpu-check without Xen (exit $rc)" "$d/c4.out"
fi
"$XE" vm-cpu-check vm=../etc host=h2 records-only=true > "$d/c5.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'VM name' "$d/c5.out"; then
    ok "vm-cpu-check refuses a VM name that is not a name"
else
    not_ok "vm-cpu-check vm=../etc (exit $rc)" "$d/c5.out"
fi

# ---- the migration channel carries and checks the VM's CPU ---------------
stream=$d/stream
head -c $((1 << 20)) /dev/urandom > "$stream"
export FAKE_XL_EXPECT=$stream
start_listener refuse --no-tls --cpu-record="$d/h2.json" --state-dir="$d/dst"
migrate refuse "--no-tls --vm=web1"
wait_listener
if [ "$MRC" -ne 0 ] &&
   grep -q 'VM_INCOMPATIBLE_WITH_THIS_HOST: .*refused the migration: VM web1 cannot run on host h2: lahf_lm, sse4a missing' "$d/refuse.xl" &&
   ! grep -q 'migrate-receive: ok' "$FAKE_XL_LOG" &&
   [ ! -e "$d/dst/vms/web1.json" ]; then
    ok "channel-send --vm to a host lacking features: refused before any byte, naming them"
else
    not_ok "channel-send --vm refused (exit $MRC)" "$d/refuse.xl" "$d/refuse.listen" "$FAKE_XL_LOG"
fi

start_listener accept --no-tls --cpu-record="$d/h1.json" --state-dir="$d/dst"
migrate accept "--no-tls --vm=web1 --codec=zstd"
wait_listener
if [ "$MRC" -eq 0 ] && [ "$LRC" -eq 0 ] &&
   grep -q '^fake-xl migrate-receive: ok' "$FAKE_XL_LOG" &&
   grep -q "$FS1" "$d/dst/vms/web1.json"; then
    ok "channel-send --vm to a capable host: migrates, the VM's CPU record goes along"
else
    not_ok "channel-send --vm accepted (exit $MRC/$LRC)" "$d/accept.xl" "$d/accept.listen" "$FAKE_XL_LOG"
fi

rm -rf "$d/dst"
start_listener force --no-tls --cpu-record="$d/h2.json" --state-dir="$d/dst"
migrate force "--no-tls --vm=web1 --force"
wait_listener
if [ "$MRC" -eq 0 ] && grep -q 'accepting VM web1 anyway (--force)' "$d/force.listen" &&
   grep -q '^fake-xl migrate-receive: ok' "$FAKE_XL_LOG"; then
    ok "channel-send --vm --force: accepted with a warning naming the missing features"
else
    not_ok "channel-send --vm --force (exit $MRC)" "$d/force.xl" "$d/force.listen"
fi

migrate none "--no-tls --vm=db9"
if [ "$MRC" -ne 0 ] && grep -q 'XEN_NOT_AVAILABLE' "$d/none.xl"; then
    ok "channel-send --vm of a VM without a record needs Xen to read it"
else
    not_ok "channel-send --vm=db9 without record (exit $MRC)" "$d/none.xl"
fi

finish
