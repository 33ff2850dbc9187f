#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# Bash completion of xlmig-xe and xlmig (tools/completion/xlmig), driven
# as bash drives it: the script sourced in a non-interactive bash,
# COMP_WORDS split as readline splits the line (at blanks, and each run
# of = or : a word of its own), COMP_CWORD, COMP_LINE and COMP_POINT set,
# the function `complete -p` names called and COMPREPLY checked; without
# the bash-completion package and, where it is installed, with it
# (_init_completion).  Commands, keys and options come from the programs
# (--complete); values from a state made by the CLIs themselves (SRs,
# VDIs, VBDs, host CPU records) and from a pool daemon on the stand-in
# hypervisor (its hosts and VMs); a daemon that never answers costs less
# than 2 s and leaves nothing on stderr.
# Ends with "integration-completion: N passed, N failed".
#
# Environment: XLMIG_BIN, XLMIG_XE_BIN (default build/san/...),
# XLMIG_BUILDDIR, XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"
XLMIGD=$(abs_path "$bld/san/xlmigd-fake")
FX=$bld/tests/tools/fake-xen
SCRIPT=$src/tools/completion/xlmig
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
case $FX in /*) ;; *) FX=$PWD/$FX ;; esac

d=$(mktemp -d /tmp/xlmig-compl.XXXXXX)
LABEL=integration-completion
. "$here/lib.sh"

for b in "$XE" "$XLMIG" "$XLMIGD" "$FX"; do
    if [ ! -x "$b" ]; then
        echo "missing $b: run make check's build first"
        failed=1
        finish
    fi
done
for t in qemu-img python3 openssl; do
    if ! command -v $t > /dev/null; then
        echo "missing $t: run scripts/install-deps.sh"
        failed=1
        finish
    fi
done

# The programs by the names the completion is registered for.
mkdir -p "$d/bin"
ln -s "$XE" "$d/bin/xlmig-xe"
ln -s "$XLMIG" "$d/bin/xlmig"
export PATH=$d/bin:$PATH
export XLMIG_CONFIG=$d/none.conf        # no pool unless a test says so
export XLMIG_STATE_DIR=$d/state

# drive.sh MODE LINE: complete LINE, the cursor at its end, in a fresh
# non-interactive bash; COMPREPLY one a line on stdout.  MODE "plain"
# or "bash-completion" (its _init_completion loaded first).
cat > "$d/drive.sh" << 'EOF'
mode=$1 line=$2
if [ "$mode" = bash-completion ]; then
    . "$BASH_COMPLETION" || exit 3
    declare -F _init_completion > /dev/null || exit 3
fi
. "$SCRIPT" || exit 3
# readline: words at blanks; each run of = and : stands alone
COMP_WORDS=()
read -ra blanks <<< "$line"
[[ -z $line || $line == *" " ]] && blanks+=("")
for w in "${blanks[@]}"; do
    [ -z "$w" ] && { COMP_WORDS+=(""); continue; }
    piece= breaks=
    for ((i = 0; i < ${#w}; i++)); do
        c=${w:i:1}
        if [[ $c == [=:] ]]; then
            [ -n "$piece" ] && COMP_WORDS+=("$piece")
            piece=
            breaks+=$c
        else
            [ -n "$breaks" ] && COMP_WORDS+=("$breaks")
            breaks=
            piece+=$c
        fi
    done
    [ -n "$piece" ] && COMP_WORDS+=("$piece")
    [ -n "$breaks" ] && COMP_WORDS+=("$breaks")
done
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p "${COMP_WORDS[0]}") || exit 4
fn=${spec#complete -F }
fn=${fn%% *}
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
    "${COMP_WORDS[COMP_CWORD-1]-}"
printf '%s\n' "${COMPREPLY[@]}"
EOF
export SCRIPT BASH_COMPLETION

modes=(plain)
if [ -r "$BASH_COMPLETION" ]; then
    modes+=(bash-completion)
else
    echo "# $BASH_COMPLETION missing (scripts/install-deps.sh installs" \
         "bash-completion): only its fallback is tested"
fi

# comp MODE LINE: the replies, sorted, one a line, in $REPLY_OUT; the
# completion's stderr in $d/comp.err.
comp() {
    REPLY_OUT=$(bash "$d/drive.sh" "$1" "$2" 2> "$d/comp.err" | LC_ALL=C sort)
}

# expect TEXT LINE WANTED...: in every mode, COMPREPLY is exactly
# WANTED (any order) and nothing went to stderr.
expect() {
    local text=$1 line=$2 mode want
    shift 2
    want=$(printf '%s\n' "$@" | LC_ALL=C sort)
    [ $# -gt 0 ] || want=""
    for mode in "${modes[@]}"; do
        comp "$mode" "$line"
        if [ "$REPLY_OUT" = "$want" ] && [ ! -s "$d/comp.err" ]; then
            ok "$text ($mode)"
        else
            printf '%s\n' "line: '$line'" "got:" "$REPLY_OUT" "want:" \
                "$want" > "$d/why"
            not_ok "$text ($mode)" "$d/why" "$d/comp.err"
        fi
    done
}

if bash -n "$SCRIPT" 2> "$d/n.err"; then
    ok "bash -n tools/completion/xlmig"
else
    not_ok "bash -n tools/completion/xlmig" "$d/n.err"
fi

# ---- commands, keys, options (the programs' tables) --------------------
mapfile -t vm_mi < <("$XE" --help | awk '$1 ~ /^vm-mi/ {print $1}')
expect "xlmig-xe vm-mi: the commands --help lists that begin so" \
    "xlmig-xe vm-mi" "${vm_mi[@]}"
[ "${#vm_mi[@]}" -ge 1 ] && [ "${vm_mi[0]}" = vm-migrate ] ||
    not_ok "xlmig-xe --help lists no vm-migrate"
expect "xlmig-xe vm-migrate vm=web1 ho: the keys" \
    "xlmig-xe vm-migrate vm=web1 ho" host= host-uuid=
expect "xlmig-xe vm-migrate vm=web1 host=h2 c: keys not given yet" \
    "xlmig-xe vm-migrate vm=web1 host=h2 c" compress= copy= config=
comp plain "xlmig-xe vm-migrate vm=web1 host=h2 "
if printf '%s\n' "$REPLY_OUT" | grep -qx 'vdi:' &&
   printf '%s\n' "$REPLY_OUT" | grep -qx -- '--minimal' &&
   printf '%s\n' "$REPLY_OUT" | grep -qx 'params=' &&
   printf '%s\n' "$REPLY_OUT" | grep -qx 'host-uuid=' &&
   ! printf '%s\n' "$REPLY_OUT" | grep -qx 'host=' &&
   ! printf '%s\n' "$REPLY_OUT" | grep -qx 'vm='; then
    ok "xlmig-xe vm-migrate ... TAB: map prefix vdi:, --minimal, params=; not vm= and host= again"
else
    not_ok "xlmig-xe vm-migrate ... TAB: '$REPLY_OUT'"
fi
expect "xlmig-xe vdi-list --minimal --m: --minimal once" \
    "xlmig-xe vdi-list --minimal --m"
expect "xlmig-xe sr-list --j: a listing takes --json" \
    "xlmig-xe sr-list --j" --json
expect "xlmig-xe sr-create --j: only the listings take --json" \
    "xlmig-xe sr-create --j"
expect "xlmig-xe vdi-list params=uuid,na: the fields vdi-list's help lists" \
    "xlmig-xe vdi-list params=uuid,na" "uuid,name-label"
expect "xlmig-xe vdi-create format=: the formats" \
    "xlmig-xe vdi-create format=" qcow2 raw
expect "xlmig-xe vm-migrate vm=web1 live=: true false" \
    "xlmig-xe vm-migrate vm=web1 live=" true false
expect "xlmig-xe vm-migrate frob=: a key it does not take, nothing" \
    "xlmig-xe vm-migrate frob="

mapfile -t chan < <("$XLMIG" --help | awk '$1 ~ /^chan/ {print $1}')
expect "xlmig chan: the commands --help lists that begin so" \
    "xlmig chan" "${chan[@]}"
[ "${#chan[@]}" -eq 2 ] || not_ok "xlmig --help lists '${chan[*]}' for chan"
expect "xlmig channel-listen --p: its options (value ones end in =)" \
    "xlmig channel-listen --p" --page-cache= --peer-name= --port= \
    --port-file= --progress --psk-file=
expect "xlmig channel-send --b: --bwlimit= (--bind= is channel-listen's)" \
    "xlmig channel-send --b" --bwlimit=
expect "xlmig channel-send --com: not the hidden --compress" \
    "xlmig channel-send --com"
mapfile -t sxr < <("$XLMIG" --help | awk '$1 ~ /^sxm-rec/ {print $1}')
expect "xlmig help sxm-rec: command names" "xlmig help sxm-rec" "${sxr[@]}"

# ---- values from the local state ---------------------------------------
SR1=$("$XE" sr-create name-label=local device-config:path="$d/sr1")
SR2=$("$XE" sr-create name-label=fast device-config:path="$d/sr2")
V1=$("$XE" vdi-create sr-uuid=local name-label=web1-disk virtual-size=16M)
V2=$("$XE" vdi-create sr-uuid=fast name-label=db1-disk virtual-size=16M)
"$XE" vbd-create vm=web1 vdi-uuid="$V1" device=xvda > /dev/null
"$XE" vbd-create vm=db1 vdi-uuid="$V2" device=xvda > /dev/null
printf '{"version":1,"kind":"host","name":"%s","vendor":"AuthenticAMD","pv_max":"%s","hvm_max":"%s","recorded":1763769600}\n' \
    h7 178bf3fd-80002001-2193fbfd-000001c7 \
    178bf3fd-80002001-2193fbfd-000001c7 > "$d/h7.json"
"$XE" host-cpu-import file="$d/h7.json" > /dev/null
if [ -n "$SR1" ] && [ -n "$SR2" ] && [ -n "$V1" ] && [ -n "$V2" ] &&
   [ -f "$d/state/hosts/h7.json" ]; then
    ok "state: two SRs, two VDIs, VBDs of web1 and db1, host record h7"
else
    not_ok "making the state ('$SR1' '$SR2' '$V1' '$V2')"
fi

expect "xlmig-xe vdi-create sr-uuid=: the SRs' uuids and names" \
    "xlmig-xe vdi-create sr-uuid=" "$SR1" "$SR2" local fast
expect "xlmig-xe vdi-create sr-uuid=lo" "xlmig-xe vdi-create sr-uuid=lo" local
expect "xlmig-xe sr-forget uuid=: SR uuids only" \
    "xlmig-xe sr-forget uuid=" "$SR1" "$SR2"
expect "xlmig-xe vdi-destroy uuid=PREFIX: that VDI" \
    "xlmig-xe vdi-destroy uuid=${V1:0:8}" "$V1"
expect "xlmig-xe vdi-list name-label=: the VDIs' names" \
    "xlmig-xe vdi-list name-label=" web1-disk db1-disk
expect "xlmig-xe vbd-destroy vm=: the VMs the VBDs name" \
    "xlmig-xe vbd-destroy vm=" web1 db1
expect "xlmig-xe vm-migrate vm=web1,d: a list, its next VM" \
    "xlmig-xe vm-migrate vm=web1,d" web1,db1
expect "xlmig-xe vm-migrate vm=web1 vdi:: web1's disk, then =" \
    "xlmig-xe vm-migrate vm=web1 vdi:" "$V1="
expect "xlmig-xe vm-migrate vdi:: every VDI without vm=" \
    "xlmig-xe vm-migrate vdi:" "$V1=" "$V2="
expect "xlmig-xe vm-migrate vm=web1 vdi:V1=f: the SR" \
    "xlmig-xe vm-migrate vm=web1 vdi:$V1=f" fast
expect "xlmig-xe vm-migrate vm=web1 vdi:V1=: SR uuids and names" \
    "xlmig-xe vm-migrate vm=web1 vdi:$V1=" "$SR1" "$SR2" local fast
expect "xlmig-xe pool-cpu-info host=: the host records" \
    "xlmig-xe pool-cpu-info host=" h7
expect "xlmig-xe vdi-list state-dir=ELSEWHERE sr-uuid=: state-dir= on the line" \
    "xlmig-xe vdi-list state-dir=$d/sr1 sr-uuid="
expect "xlmig-xe sr-create device-config:path=DIR/sr: directories" \
    "xlmig-xe sr-create device-config:path=$d/sr" "$d/sr1" "$d/sr2"
expect "xlmig sxm-list --state-dir=DIR/sta: a path" \
    "xlmig sxm-list --state-dir=$d/sta" "$d/state"

# ---- the pool's daemon: its hosts and VMs ------------------------------
openssl rand -hex 32 > "$d/psk"
PORT=$((20000 + RANDOM % 20000))
printf 'name = h1\naddress = 127.0.0.1:%s\nmaster = 127.0.0.1:%s\npool-name = cp\npool-uuid = 3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6c\npsk-file = %s\nstate-dir = %s\n' \
    "$PORT" "$PORT" "$d/psk" "$d/s1" > "$d/h1.conf"
mkdir -p "$d/x1" "$d/s1"
"$FX" host --dir "$d/x1" > /dev/null
DBU=0f0e0d0c-0b0a-4908-8706-050403020101
cat > "$d/app1.json" << EOF
{ "c_info": { "type": "pvh", "name": "app1", "uuid": "$DBU" },
  "b_info": { "max_vcpus": 1, "max_memkb": 65536, "target_memkb": 65536,
              "type.pvh": {} },
  "disks": [], "nics": [] }
EOF
"$FX" create --dir "$d/x1" --name app1 --config "$d/app1.json" > /dev/null
XLMIG_FAKE_XEN=$d/x1 XLMIG_STATE_DIR= "$XLMIGD" --foreground \
    --config "$d/h1.conf" > "$d/xlmigd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    "$XE" host-list config="$d/h1.conf" > /dev/null 2>&1 && break
    sleep 0.1
done
expect "xlmig-xe vm-start config=C vm=: the daemon's VM (name, uuid) and the state's" \
    "xlmig-xe vm-start config=$d/h1.conf vm=" app1 "$DBU" web1 db1
expect "xlmig-xe host-disable config=C host=: the pool's host and the records'" \
    "xlmig-xe host-disable config=$d/h1.conf host=" h1 h7
XLMIG_CONFIG=$d/h1.conf expect "XLMIG_CONFIG=C xlmig-xe vm-register vm=a" \
    "xlmig-xe vm-register vm=a" app1

# ---- a daemon that never answers: quick and quiet ----------------------
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(120)' > "$d/silent.port" &
pids+=($!)
for _ in $(seq 50); do
    [ -s "$d/silent.port" ] && break
    sleep 0.1
done
SP=$(cat "$d/silent.port")
printf 'name = h9\naddress = 127.0.0.1:%s\nmaster = 127.0.0.1:%s\npool-uuid = 3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6d\npsk-file = %s\n' \
    "$SP" "$SP" "$d/psk" > "$d/silent.conf"
printf 'name = h8\naddress = 127.0.0.1:1\nmaster = 127.0.0.1:1\npool-uuid = 3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6e\npsk-file = %s\n' \
    "$d/psk" > "$d/refused.conf"
for conf in silent refused; do
    for mode in "${modes[@]}"; do
        t0=$(date +%s%N)
        XLMIG_CONFIG=$d/$conf.conf comp "$mode" "xlmig-xe vm-migrate vm="
        ms=$((($(date +%s%N) - t0) / 1000000))
        if [ "$ms" -lt 2000 ] && [ ! -s "$d/comp.err" ] &&
           [ "$REPLY_OUT" = "$(printf 'db1\nweb1')" ]; then
            ok "vm= with a daemon that $([ $conf = silent ] && echo "never answers" || echo "refuses"): the state's VMs in $ms ms, stderr empty ($mode)"
        else
            not_ok "vm= with the $conf daemon: $ms ms, '$REPLY_OUT' ($mode)" "$d/comp.err"
        fi
    done
done
t0=$(date +%s%N)
out=$(XLMIG_CONFIG=$d/silent.conf "$XE" --complete values task-cancel uuid 2> "$d/t.err")
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 2000 ] && [ -z "$out" ] && [ ! -s "$d/t.err" ]; then
    ok "xlmig-xe --complete values task-cancel uuid, daemon silent: nothing in $ms ms"
else
    not_ok "task-cancel uuid= with a silent daemon: $ms ms, '$out'" "$d/t.err"
fi

finish
