#!/bin/sh
# make bench: build the benchmark streams from the shared guest RAM corpus
# (cached in .cache/bench/, git-ignored) and run each benchmark program.
# Every benchmark compares against the peer tools in the same run.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
corpus=${XLMIG_CORPUS:-$top/../shared/corpus}
cache=$top/.cache/bench
gen=$B/tests/tools/gen-stream
mkdir -p "$cache"

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

"$B/bench/bench-channel" --rates 1g,10g "$cache/idle-full.stream" \
    "$cache/busy-full.stream" "$cache/busy-rounds.stream"
for b in "$B"/bench/bench-*; do
    case $b in
    */bench-channel) ;;
    *) [ -x "$b" ] && "$b" ;;
    esac
done
