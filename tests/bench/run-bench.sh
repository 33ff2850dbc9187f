#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# make bench: build the benchmark streams from the shared guest RAM corpus
# (cached in .cache/bench/, git-ignored) and run each benchmark program.
# Every benchmark compares against the peer tools in the same run.
#
#   run-bench.sh [NAME...]   only these (channel, cost, tls, slots, slots-etcd,
#                            blkcopy, diskstream, sxm);
#                            all when none is named
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
corpus=${XLMIG_CORPUS:-$top/../shared/corpus}
cache=$top/.cache/bench
gen=$B/tests/tools/gen-stream
only=" $* "
mkdir -p "$cache"

# Is benchmark $1 asked for?
want() {
    [ "$only" = "  " ] && return 0
    case $only in *" $1 "*) return 0 ;; esac
    return 1
}

# ------------------------------------------------------------ blkcopy
# Storage migration's bulk copy: a 1 GiB sparse qcow2 (1 MiB extents of
# random bytes, scattered) served read-only by qemu-nbd on a unix socket,
# copied into a fresh qcow2 served by another qemu-nbd, by us and by
# `qemu-img convert -n --target-is-zero` (and nbdcopy when installed),
# alternating, best of 3 each, at 10%, 20% and 40% allocated.  Wall time
# of the whole command (connect, copy, flush, exit).  The images live in
# $XLMIG_BENCH_DIR, by default /dev/shm: on tmpfs the disk's writeback
# does not decide the result (docs/bench.md).
bench_blkcopy() {
    drv=$B/bench/bench-blkcopy
    base=${XLMIG_BENCH_DIR:-/dev/shm}
    [ -d "$base" ] || base=/tmp
    d=$(mktemp -d "$base/bench-blkcopy.XXXXXX")
    srcpid=
    dstpid=
    trap 'kill $srcpid $dstpid 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
    src_uri="nbd+unix:///?socket=$d/src.sock"
    dst_uri="nbd+unix:///?socket=$d/dst.sock"
    nbdcopy=$(command -v nbdcopy || true)

    serve() { # IMG SOCK [-r]: start qemu-nbd, wait for its socket
        rm -f "$2"
        qemu-nbd --persistent -f qcow2 ${3:-} -k "$2" "$1" \
            >>"$d/qemu-nbd.log" 2>&1 &
        i=0
        until [ -S "$2" ]; do
            i=$((i + 1))
            [ $i -lt 500 ] || {
                echo "bench: qemu-nbd did not start; see $d/qemu-nbd.log" >&2
                exit 1
            }
            sleep 0.02
        done
    }
    fresh_dst() {
        if [ -n "$dstpid" ]; then
            kill "$dstpid"
            wait "$dstpid" 2>/dev/null || true
        fi
        rm -f "$d/dst.qcow2"
        qemu-img create -q -f qcow2 "$d/dst.qcow2" 1G
        serve "$d/dst.qcow2" "$d/dst.sock"
        dstpid=$!
    }
    # timed VAR CMD...: run CMD (stdout in $d/out); VAR keeps the least
    # wall time so far
    timed() {
        var=$1
        shift
        t0=$(date +%s.%N)
        "$@" >"$d/out" || { echo "bench: $1 failed" >&2; exit 1; }
        t=$(echo "$t0 $(date +%s.%N)" | awk '{print $2 - $1}')
        eval "prev=\${$var}"
        if [ -z "$prev" ] ||
            [ "$(echo "$t $prev" | awk '{print ($1 < $2)}')" = 1 ]; then
            eval "$var=$t"
        fi
    }

    printf '\n== block copy: 1 GiB qcow2 to a fresh qcow2, qemu-nbd on both '
    printf 'sides, best of 3, in %s\n' "$base"
    printf '%-5s %8s %8s %10s %10s %13s %8s %10s\n' alloc "data MB" "ours s" \
        "ours MB/s" "qemu-img s" "qemu-img MB/s" "ratio" "nbdcopy s"
    for pct in 10 20 40; do
        rm -f "$d/src.qcow2"
        qemu-img create -q -f qcow2 "$d/src.qcow2" 1G
        serve "$d/src.qcow2" "$d/src.sock"
        srcpid=$!
        "$drv" fill "$src_uri" "$pct" "$pct"
        kill "$srcpid"
        wait "$srcpid" 2>/dev/null || true
        serve "$d/src.qcow2" "$d/src.sock" -r
        srcpid=$!
        ours=
        peer=
        nc=
        for run in 1 2 3; do
            fresh_dst
            timed peer qemu-img convert -n --target-is-zero -f raw -O raw \
                "$src_uri" "$dst_uri"
            fresh_dst
            timed ours "$drv" copy "$src_uri" "$dst_uri"
            data=$(cut -d' ' -f2 "$d/out")
            if [ -n "$nbdcopy" ]; then
                fresh_dst
                timed nc "$nbdcopy" --destination-is-zero "$src_uri" \
                    "$dst_uri"
            fi
        done
        kill "$srcpid" "$dstpid"
        wait 2>/dev/null || true
        srcpid=
        dstpid=
        eval "t_$pct=$ours d_$pct=$data"
        echo "$pct $data $ours $peer ${nc:--}" | awk '{
            printf "%-5s %8.0f %8.3f %10.0f %10.3f %13.0f %8.2f %10s\n",
                $1 "%", $2 / 1e6, $3, $2 / 1e6 / $3, $4, $2 / 1e6 / $4,
                $4 / $3, $5 == "-" ? "-" : sprintf("%.3f", $5) }'
        [ "$pct" != 10 ] ||
            ratio10=$(echo "$ours $peer" | awk '{printf "%.2f", $2 / $1}')
    done
    echo "ours/qemu-img at 10%: $ratio10 (throughput; target >= 0.90)"
    # A straight line through 10% and 40%: fixed cost plus a rate.
    echo "$t_10 $t_20 $t_40 $d_10 $d_40" | awk '{
        b = ($3 - $1) / ($5 - $4); a = $1 - b * $4
        printf "ours vs allocation: 20%%/10%% = %.2f, 40%%/10%% = %.2f " \
            "(data: 2, 4); time = %.3f s + data at %.0f MB/s\n",
            $2 / $1, $3 / $1, a, 1 / b / 1e6 }'
    rm -rf "$d"
    trap - EXIT
}

# The raw images, checked against the corpus README's sha256.
image() {
    name=$1
    sum=$2
    raw=$cache/$name.raw
    if [ ! -f "$raw" ] || [ ! -f "$raw.ok" ]; then
        [ -f "$corpus/$name.raw.zst" ] || {
            echo "bench: missing $corpus/$name.raw.zst (set XLMIG_CORPUS)" >&2
            exit 1
        }
        zstd -dqf "$corpus/$name.raw.zst" -o "$raw"
        echo "$sum  $raw" | sha256sum -c --quiet - || {
            echo "bench: $raw does not match its checksum" >&2
            exit 1
        }
        touch "$raw.ok"
    fi
}
# best_of_3 COMMAND...: run it 3 times; print the output line ("SECONDS
# ...") whose first field is the least.
best_of_3() {
    b=
    for run in 1 2 3; do
        line=$("$@")
        if [ -z "$b" ] || [ "$(echo "${line%% *} ${b%% *}" | awk '{print ($1 < $2)}')" = 1 ]; then
            b=$line
        fi
    done
    echo "$b"
}
# ram_disk RAW PIECES STRIDE OUT: a 1 GiB qcow2 OUT holding PIECES 4 MiB
# pieces of RAW, one every STRIDE * 4 MiB of the disk, holes between.
ram_disk() {
    truncate -s 1G "$4.raw"
    k=0
    while [ $k -lt "$2" ]; do
        dd if="$1" of="$4.raw" bs=4M count=1 skip=$k seek=$((k * $3)) \
            conv=notrunc,sparse status=none
        k=$((k + 1))
    done
    qemu-img convert -f raw -O qcow2 "$4.raw" "$4"
    rm -f "$4.raw"
}
# --------------------------------------------------------- diskstream
# Storage migration's copy through the stream channel
# (docs/specs/diskstream.md): a 1 GiB sparse qcow2 with 10% allocated,
# its data the busy guest's RAM from the corpus (26 pieces of 4 MiB,
# every tenth 4 MiB of the disk), served read-only by qemu-nbd;
# `xlmig sxm-send-data` to `xlmig sxm-receive-data --dst-uri` (a fresh
# qcow2 served by qemu-nbd) on 127.0.0.1, no TLS, codec none against
# zstd, at a 100 MB/s cap (a 1 Gb/s link) and uncapped; best of 3; wall
# time until the receiver has flushed and exited.  Images in
# $XLMIG_BENCH_DIR (default /dev/shm).
bench_diskstream() {
    x=$B/xlmig
    base=${XLMIG_BENCH_DIR:-/dev/shm}
    [ -d "$base" ] || base=/tmp
    d=$(mktemp -d "$base/bench-diskstream.XXXXXX")
    srcpid=
    dstpid=
    trap 'kill $srcpid $dstpid 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
    image guest-busy-256m 2e4f8d2509853ee393198de1e53b58095a7454f7e9c2f01d0deedbc6a05b133c
    raw=$cache/guest-busy-256m.raw

    serve() { # IMG SOCK [-r]
        rm -f "$2"
        qemu-nbd --persistent -f qcow2 ${3:-} -k "$2" "$1" \
            >>"$d/qemu-nbd.log" 2>&1 &
        i=0
        until [ -S "$2" ]; do
            i=$((i + 1))
            [ $i -lt 500 ] || { echo "bench: qemu-nbd did not start" >&2; exit 1; }
            sleep 0.02
        done
    }
    ram_disk "$raw" 26 10 "$d/src.qcow2"
    serve "$d/src.qcow2" "$d/src.sock" -r
    srcpid=$!
    src_uri="nbd+unix:///?socket=$d/src.sock"

    # one CODEC BWLIMIT: a fresh destination, receiver, sender; prints
    # "seconds wire_bytes data_bytes"
    # (Run in a command substitution: it stops its own qemu-nbd.)
    one() {
        rm -f "$d/dst.qcow2"
        qemu-img create -q -f qcow2 "$d/dst.qcow2" 1G
        serve "$d/dst.qcow2" "$d/dst.sock"
        dstpid=$!
        port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
        "$x" sxm-receive-data --dst-uri "nbd+unix:///?socket=$d/dst.sock" \
            --listen tcp:127.0.0.1:$port --no-tls >"$d/r.out" 2>"$d/r.err" &
        rpid=$!
        i=0
        until grep -q listening "$d/r.out" 2>/dev/null; do
            i=$((i + 1))
            [ $i -lt 500 ] || { echo "bench: receiver did not start" >&2; cat "$d/r.err" >&2; exit 1; }
            sleep 0.01
        done
        t0=$(date +%s.%N)
        "$x" sxm-send-data --src-uri "$src_uri" --to tcp:127.0.0.1:$port \
            --no-tls --codec "$1" --bwlimit "$2" >"$d/s.out" 2>"$d/s.err" ||
            { echo "bench: sxm-send-data failed" >&2; cat "$d/s.err" >&2; exit 1; }
        wait "$rpid" || { echo "bench: sxm-receive-data failed" >&2; cat "$d/r.err" >&2; exit 1; }
        t1=$(date +%s.%N)
        kill "$dstpid"
        wait "$dstpid" 2>/dev/null || true
        wire=$(sed -n 's/.*, \([0-9]*\) bytes on the wire.*/\1/p' "$d/s.out")
        data=$(sed -n 's/^sxm-send-data: \([0-9]*\) data bytes.*/\1/p' "$d/s.out")
        echo "$t0 $t1 $wire $data" | awk '{printf "%.3f %s %s\n", $2 - $1, $3, $4}'
    }

    printf '\n== disk stream: 1 GiB qcow2, 10%% allocated with guest RAM, '
    printf 'through the channel on 127.0.0.1, best of 3, in %s\n' "$base"
    printf '%-10s %-6s %8s %10s %10s %8s %9s\n' cap codec "data MB" "wire MB" \
        "data/wire" seconds "vs none"
    for cap in 100000000 none; do
        tnone=
        for codec in none zstd; do
            set -- $(best_of_3 one "$codec" "$cap")
            best=$1
            wire=$2
            data=$3
            [ "$codec" = none ] && tnone=$best
            echo "$cap $codec $data $wire $best $tnone" | awk '{
                printf "%-10s %-6s %8.1f %10.1f %10.2f %8.3f %9s\n",
                    $1 == "none" ? "none" : sprintf("%.0fMB/s", $1 / 1e6),
                    $2, $3 / 1e6, $4 / 1e6, $3 / $4, $5,
                    sprintf("%.2fx", $6 / $5) }'
        done
    done
    kill "$srcpid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$d"
    trap - EXIT
}

# ---------------------------------------------------------------- sxm
# A whole storage move between two hosts of a pool (docs/specs/sxm.md):
# xlmigd master on 127.0.0.1 (the source) and member on 127.0.0.2 (the
# destination), TLS with throw-away pool certificates; the VM's QEMU is a
# qemu-storage-daemon serving a 1 GiB qcow2 VDI, 25% allocated with the
# busy guest's RAM (64 pieces of 4 MiB, every fourth 4 MiB of the disk),
# the guest idle.  `xlmig sxm-send --dest-host h2 --switch-now` with the
# snapshot's data by NBD into the parent against through the channel
# (zstd), at a 100 MB/s cap (a 1 Gb/s link) and uncapped; best of 3;
# wall time from the command's start until the destination is composed.
bench_sxm() {
    x=$B/xlmig
    xe=$B/xlmig-xe
    xd=$B/xlmigd
    base=${XLMIG_BENCH_DIR:-/dev/shm}
    [ -d "$base" ] || base=/tmp
    d=$(mktemp -d "$base/bench-sxm.XXXXXX")
    qsdpid=
    d1=
    d2=
    trap 'kill $qsdpid $d1 $d2 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
    image guest-busy-256m 2e4f8d2509853ee393198de1e53b58095a7454f7e9c2f01d0deedbc6a05b133c
    raw=$cache/guest-busy-256m.raw
    sh "$top/tests/integration/mkcerts.sh" "$d/tls" >/dev/null 2>&1 ||
        { echo "bench: mkcerts failed" >&2; exit 1; }
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
    for n in 1 2; do
        mkdir -p "$d/s$n"
        printf 'name = h%s\naddress = 127.0.0.%s:%s\nmaster = 127.0.0.1:%s\npool-name = bench\npool-uuid = 5b6c7d8e-9fa0-4b1c-8d2e-3f4a5b6c7d8e\nstate-dir = %s\ntls-cert = %s\ntls-key = %s\ntls-ca = %s\n' \
            "$n" "$n" "$port" "$port" "$d/s$n" "$d/tls/host$n.pem" \
            "$d/tls/host$n.key" "$d/tls/ca.pem" > "$d/h$n.conf"
    done
    XLMIG_STATE_DIR=$d/s1 "$xe" sr-create name-label=src device-config:path="$d/srA" >/dev/null
    XLMIG_STATE_DIR=$d/s2 "$xe" sr-create name-label=dst device-config:path="$d/srB" >/dev/null
    vdi=$(XLMIG_STATE_DIR=$d/s1 "$xe" vdi-create sr-uuid=src name-label=disk virtual-size=1GiB format=qcow2)
    ram_disk "$raw" 64 4 "$d/srA/$vdi.qcow2"
    "$xd" --foreground --config "$d/h1.conf" >"$d/xlmigd1.log" 2>&1 &
    d1=$!
    "$xd" --foreground --config "$d/h2.conf" >"$d/xlmigd2.log" 2>&1 &
    d2=$!
    qemu-storage-daemon \
        --blockdev driver=file,node-name=disk0-file,filename="$d/srA/$vdi.qcow2" \
        --blockdev driver=qcow2,node-name=disk0,file=disk0-file \
        --chardev socket,id=m,path="$d/qmp.sock",server=on,wait=off \
        --monitor chardev=m >"$d/qsd.log" 2>&1 &
    qsdpid=$!
    i=0
    until [ -S "$d/qmp.sock" ] &&
          [ "$("$xe" host-list config="$d/h1.conf" params=name-label --minimal 2>/dev/null | tr ',' '\n' | wc -l)" -ge 2 ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || { echo "bench: the pool or the VM did not start" >&2; cat "$d"/*.log >&2; exit 1; }
        sleep 0.05
    done

    # one VIA BWLIMIT: one move, the new VDI destroyed after; prints
    # "seconds data_MiB wire_MiB" (channel) or "seconds" (nbd)
    one() {
        set -- "$1" "$2"
        if [ "$1" = channel ]; then via="--data-via channel --codec zstd"; else via=; fi
        if [ "$2" = none ]; then bw=; else bw="--bwlimit $2"; fi
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        XLMIG_STATE_DIR=$d/s1 "$x" sxm-send --vdi "$vdi" --qmp "$d/qmp.sock" \
            --dest-host h2 --sr dst --config "$d/h1.conf" --switch-now $via $bw \
            >"$d/send.out" 2>"$d/send.err" ||
            { echo "bench: sxm-send failed" >&2; cat "$d/send.err" >&2; exit 1; }
        t1=$(date +%s.%N)
        new=$(sed -n 's/.*moved to SR dst of host h2: VDI //p' "$d/send.out")
        XLMIG_STATE_DIR=$d/s2 "$xe" vdi-destroy uuid="$new" >/dev/null
        wire=$(sed -n 's/.*snapshot.s \([0-9.]*\) MiB (\([0-9.]*\) MiB on the wire).*/\1 \2/p' "$d/send.out")
        echo "$t0 $t1 $wire" | awk '{printf "%.3f %s %s\n", $2 - $1, $3, $4}'
    }

    printf '\n== storage move through xlmigd: 1 GiB qcow2 VDI, 25%% allocated '
    printf 'with guest RAM, 127.0.0.1 -> .2 with TLS, best of 3, in %s\n' "$base"
    printf '%-10s %-14s %9s %9s %8s %9s\n' cap "data via" "data MiB" \
        "wire MiB" seconds "vs nbd"
    for cap in 100000000 none; do
        tnbd=
        for via in nbd channel; do
            set -- $(best_of_3 one "$via" "$cap")
            best=$1
            data=${2:--}
            wire=${3:--}
            [ "$via" = nbd ] && tnbd=$best
            echo "$cap $via $data $wire $best $tnbd" | awk '{
                printf "%-10s %-14s %9s %9s %8.3f %9s\n",
                    $1 == "none" ? "none" : sprintf("%.0fMB/s", $1 / 1e6),
                    $2 == "nbd" ? "NBD" : "channel zstd", $3, $4, $5,
                    sprintf("%.2fx", $6 / $5) }'
        done
    done
    kill "$qsdpid" "$d1" "$d2" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$d"
    trap - EXIT
}

# The benchmark streams, built once into $cache: the images of the
# corpus, checked, and the streams xl would send of them.
streams() {
    image guest-idle-512m 897cf0a46b5a42196fb7d0252edfccfa5049cf856a95f5b7a0d7c0ef1c3e5a33
    image guest-busy-256m 2e4f8d2509853ee393198de1e53b58095a7454f7e9c2f01d0deedbc6a05b133c

    # The streams xl would send: each image as one full pass, and the busy
    # image as a live migration sends it (full pass, then dirty rounds).
    stream() {
        out=$cache/$1.stream
        shift
        [ -f "$out" ] && [ "$out" -nt "$gen" ] || "$gen" -o "$out" "$@"
    }
    stream idle-full "$cache/guest-idle-512m.raw"
    stream busy-full "$cache/guest-busy-256m.raw"
    stream busy-rounds --rounds 30,10,3 --seed 1 "$cache/guest-busy-256m.raw"
}

if want channel; then
    streams
    "$B/bench/bench-channel" --rates 1g,10g "$cache/idle-full.stream" \
        "$cache/busy-full.stream" "$cache/busy-rounds.stream"
fi
if want cost; then
    # What moving a stream costs each side, in CPU-s per GB, bytes on the
    # wire, peak RSS, and the time on two hosts (docs/bench.md).
    streams
    python3 "$top/tests/bench/bench-cost.py" --xlmig "$B/xlmig" \
        --json "$B/bench-cost.json" "$cache/idle-full.stream" \
        "$cache/busy-full.stream" "$cache/busy-rounds.stream"
fi
for b in "$B"/bench/bench-*; do
    case $b in
    */bench-channel | */bench-blkcopy) ;;
    *) [ -x "$b" ] && want "${b##*/bench-}" && "$b" ;;
    esac
done
if want blkcopy; then
    bench_blkcopy
fi
if want diskstream; then
    bench_diskstream
fi
if want sxm; then
    bench_sxm
fi
