#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-only
"""bench-cost: what moving a migration stream costs each side.

For each stream and method, the real programs run as separate processes
on 127.0.0.1, joined by a relay that counts the bytes on the wire:

    cat STREAM | SENDER  -> relay ->  RECEIVER | (fake) xl

and each side's CPU (user + system) and peak resident memory come from
wait4(2), the kernel's own account of that process. From those the time
on two hosts follows, which one 2-core machine cannot show directly:

    t(L, T) = max(wire / L, sender CPU / Ts, receiver time(T))

with Ts the CPUs the sender can use out of T: a side that runs its work
in one thread (unzstd, zstd -T1) uses one, whatever T. The receiver's
time: the peer tools' receivers are one thread, their CPU whatever T.
Ours is a pipeline of two threads, a network stage (read, check and
decompress frames) and a decode stage (page ops, hand on), whose CPU
times channel-listen's last --progress line gives; with T >= 2 it takes
max(network stage CPU, decode stage CPU, receiver CPU / T), with T = 1
its CPU.
Every CPU figure is the median of --runs runs (default 3); runs of the
methods alternate, so that a slow spell of the machine hits all of them.

Methods:
  cat         cat | cat: a pipe and nothing else (the floor)
  xapi        zstd --fast=1 -T1 | unzstd, xapi's pipe (no TLS)
  plain-none  channel-send | channel-listen, codec none, no TLS
  none, lz4, zstd, auto
              channel-send | channel-listen with that codec, TLS 1.3
              with a pre-shared key, the page transform (the default)
  CODEC:L     the same with the codec at level L (--level): zstd:3
              auto runs with --threads=4 (--auto-threads): it plans for
              the CPUs it is told the host has, and is judged at T=4
  auto@Ng     auto once more behind a relay that lets N Gb/s through:
              auto measures the link it sends on, and is judged at N
              Gb/s on this run (--auto-rates, default 1,10,25)
  zstd-cacheN the zstd method with a page cache of N MiB on both sides
              (and so CODEC-cacheN for the others, with --methods)

Usage: bench-cost.py --xlmig PATH [--runs N] [--json FILE] STREAM...
"""
import argparse
import ctypes
import json
import mmap
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

GB = 1e9
MiB = 1 << 20
RATES = (1, 10, 25)            # link, Gb/s
SENDER_THREADS_MAX = 64        # channel-send: one thread per CPU, up to 64
# The peer tools: (sender, receiver), each one process on one CPU.
PEERS = {
    "cat": (["cat"], ["cat"]),
    "xapi": (["zstd", "-q", "--fast=1", "-T1", "-c"],
             ["zstd", "-q", "-d", "-c"]),
}
# channel-listen --progress's last line: the CPU of its receiving stages
STAGES = re.compile(r"receive CPU: network ([0-9.]+) s, decode ([0-9.]+) s")
TS = (2, 4, 8)                 # CPUs per side
# Our fixed choices: codecs at their default level, and zstd at 3.
FIXED = ("none", "lz4", "zstd", "zstd:3")

# The fake xl that channel-listen starts: it drains the stream into
# /dev/null with splice(2), so that it costs almost nothing, and writes
# its own CPU time to a file, which is then taken out of the listener's
# (wait4 counts a child's waited-for children in its figures).
FAKE_XL = r'''#!/usr/bin/python3
import os, resource, sys
null = os.open("/dev/null", os.O_WRONLY)
while os.splice(0, null, 1 << 20):
    pass
ru = resource.getrusage(resource.RUSAGE_SELF)
with open(os.path.join(os.path.dirname(sys.argv[0]), "xl.rusage"), "w") as f:
    f.write("%r %r\n" % (ru.ru_utime + ru.ru_stime, ru.ru_maxrss))
'''


def die(msg):
    print("bench-cost: " + msg, file=sys.stderr)
    sys.exit(1)


class Relay:
    """One TCP connection from the sender, passed on to the receiver,
    counting the bytes each way; the sender's way at most rate_bps bytes
    a second when given (a token bucket with 10 ms of burst, behind a
    receive buffer of 4 ms)."""

    def __init__(self, to_port, rate_bps=0):
        self.to_port = to_port
        self.rate = rate_bps
        self.ls = socket.socket()
        if rate_bps:
            # What the link holds: 4 ms of it.  Left to grow (TCP's
            # autotuning, up to megabytes), the relay's receive buffer
            # would take the first megabytes at loopback speed, and a
            # sender measuring the link would see it faster than it is.
            self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                               max(65536, int(rate_bps * 0.004)))
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.fwd = 0
        self.back = 0
        self.err = None
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def pump(self, a, b, attr, rate=0):
        size = 1 << 20
        if rate:
            size = max(4096, min(size, int(rate / 100)))
        buf = bytearray(size)
        view = memoryview(buf)
        t_next = time.monotonic()
        try:
            while True:
                n = a.recv_into(buf)
                if n == 0:
                    break
                if rate:
                    # n bytes may leave once the link has carried the last
                    now = time.monotonic()
                    if t_next > now:
                        time.sleep(t_next - now)
                    t_next = max(t_next, now - 0.01) + n / rate
                b.sendall(view[:n])
                setattr(self, attr, getattr(self, attr) + n)
        except OSError as e:
            self.err = e
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def run(self):
        self.ls.settimeout(60)
        try:
            a, _ = self.ls.accept()
        except OSError as e:
            self.err = e
            return
        b = socket.create_connection(("127.0.0.1", self.to_port))
        back = threading.Thread(target=self.pump, args=(b, a, "back"))
        back.start()
        self.pump(a, b, "fwd", self.rate)
        back.join()
        a.close()
        b.close()

    def join(self):
        self.t.join(120)
        self.ls.close()


def wait_rusage(p):
    """(exit status, CPU seconds, peak RSS in MiB) of process p."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def wait_port(path, proc, what):
    for _ in range(1000):
        try:
            with open(path) as f:
                s = f.read().strip()
            if s:
                return int(s)
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            die("%s exited %d before it listened" % (what, proc.returncode))
        time.sleep(0.01)
    die("%s did not listen within 10 s" % what)


class Bench:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.psk = os.path.join(work, "psk")
        with open(self.psk, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(self.psk, 0o600)
        self.xl = os.path.join(work, "xl")
        with open(self.xl, "w") as f:
            f.write(FAKE_XL)
        os.chmod(self.xl, 0o755)

    def feeder(self, stream):
        """cat STREAM into a pipe: the sender reads a pipe, as from xl."""
        return subprocess.Popen(["cat", stream], stdout=subprocess.PIPE)

    def run_pipe(self, stream, snd_cmd, rcv_cmd):
        """SENDER | relay | RECEIVER, for the peer tools."""
        cat = self.feeder(stream)
        snd = subprocess.Popen(snd_cmd, stdin=cat.stdout,
                               stdout=subprocess.PIPE)
        cat.stdout.close()
        rcv = subprocess.Popen(rcv_cmd, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        wire = 0
        buf = bytearray(1 << 20)
        src = snd.stdout
        while True:
            n = src.readinto(buf)
            if not n:
                break
            rcv.stdin.write(memoryview(buf)[:n])
            wire += n
        rcv.stdin.close()
        src.close()
        rs, cs, ms = wait_rusage(snd)
        rr, cr, mr = wait_rusage(rcv)
        wall = time.monotonic() - t0
        cat.wait()
        if rs or rr or cat.returncode:
            die("%s | %s failed (%d, %d)" % (snd_cmd[0], rcv_cmd[0], rs, rr))
        return dict(wire=wire, scpu=cs, rcpu=cr, srss=ms, rrss=mr, wall=wall)

    def run_channel(self, stream, codec, tls=True, cache_mib=None, rate=0,
                    level=None):
        x = self.a.xlmig
        opts = []
        # auto plans for the CPUs it is told it has: the T it is judged at
        snd_opts = ["--threads=%d" % self.a.auto_threads] \
            if codec == "auto" else []
        opts += ["--psk-file=" + self.psk] if tls else ["--no-tls"]
        if cache_mib is not None:
            opts.append("--page-cache=%d" % (cache_mib * MiB // 4096))
        pf = os.path.join(self.work, "port")
        if os.path.exists(pf):
            os.unlink(pf)
        rusage_f = os.path.join(self.work, "xl.rusage")
        if os.path.exists(rusage_f):
            os.unlink(rusage_f)
        lst = subprocess.Popen(
            [x, "channel-listen", "--once", "--bind", "127.0.0.1",
             "--port", "0", "--port-file", pf, "--xl", self.xl,
             "--progress"] + opts,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = wait_port(pf, lst, "channel-listen")
        relay = Relay(port, rate)
        cat = self.feeder(stream)
        t0 = time.monotonic()
        snd = subprocess.Popen(
            [x, "channel-send", "--codec=" + codec] + snd_opts + opts +
            (["--level=%d" % level] if level is not None else []) +
            ["127.0.0.1:%d" % relay.port],
            stdin=cat.stdout, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        cat.stdout.close()
        serr = snd.stderr.read()
        rs, cs, ms = wait_rusage(snd)
        lerr = lst.stderr.read()
        rr, cr, mr = wait_rusage(lst)
        wall = time.monotonic() - t0
        relay.join()
        cat.wait()
        if rs or rr:
            die("channel %s: channel-send exited %d, channel-listen %d:\n%s%s"
                % (codec, rs, rr, serr.decode(errors="replace"),
                   lerr.decode(errors="replace")))
        try:
            with open(rusage_f) as f:
                xl_cpu = float(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            die("the fake xl left no account of its CPU time")
        stages = STAGES.findall(lerr.decode(errors="replace"))
        if not stages:
            die("channel-listen gave no CPU time of its receiving stages "
                "(its last --progress line):\n" +
                lerr.decode(errors="replace"))
        rnet, rdec = (float(v) for v in stages[-1])
        return dict(wire=relay.fwd, scpu=cs, rcpu=cr - xl_cpu, srss=ms,
                    rrss=mr, wall=wall, rnet=rnet, rdec=rdec)


def first_touch_cpu_per_gb(mib=64):
    """CPU-s per GB this machine spends writing fresh memory (the kernel
    zeroes each page on its first touch: what a page cache costs once per
    migration) with 4 KiB pages and with huge pages, and writing it once
    more; the median of three of each."""
    n = mib * MiB

    def once(huge):
        m = mmap.mmap(-1, n,
                      flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if huge and hasattr(mmap, "MADV_HUGEPAGE"):
            m.madvise(mmap.MADV_HUGEPAGE)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        t0 = time.process_time()
        ctypes.memset(addr, 1, n)
        t1 = time.process_time()
        ctypes.memset(addr, 2, n)
        t2 = time.process_time()
        del addr
        m.close()
        return (t1 - t0) * GB / n, (t2 - t1) * GB / n

    small = [once(False) for _ in range(3)]
    huge = [once(True) for _ in range(3)]
    return (statistics.median(f for f, _ in small),
            statistics.median(f for f, _ in huge),
            statistics.median(a for _, a in small + huge))


def aes_gcm_cpu_per_gb():
    """CPU-s per GB of AES-256-GCM in 16 KB blocks, from openssl speed."""
    out = subprocess.run(
        ["openssl", "speed", "-seconds", "2", "-bytes", "16384", "-evp",
         "aes-256-gcm"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.lower().startswith("aes-256-gcm"):
            kbs = float(re.sub(r"k$", "", line.split()[-1]))
            return GB / (kbs * 1000.0)
    die("openssl speed printed no aes-256-gcm line")


def recv_time(r, T):
    """The receiver's seconds with T CPUs. One thread (rpar 1) takes its
    CPU. A pipeline of stages, each a thread (rpar 2: our network and
    decode stages), goes as fast as its slowest stage once each has a
    CPU, and no faster than its CPU spread over all T."""
    if r["rpar"] == 1 or T == 1:
        return r["rcpu"]
    return max(r["rnet"], r["rdec"], r["rcpu"] / T)


def t_of(r, gbps, T):
    """Seconds on two hosts: the slowest of the link and the two sides."""
    link = r["wire"] / (gbps * 1e9 / 8)
    return max(link, r["scpu"] / min(T, r["spar"]), recv_time(r, T))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xlmig", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--methods",
                    default="cat,xapi,plain-none,none,lz4,zstd,zstd:3,auto")
    ap.add_argument("--caches", default="0,16,64,256",
                    help="page cache sizes in MiB for the busy-rounds "
                         "stream (zstd), '' for none")
    ap.add_argument("--auto-rates", default="1,10,25",
                    help="link rates in Gb/s at which auto runs again "
                         "behind a relay that lets no more through, so "
                         "that it measures the link it is judged on; '' "
                         "for none")
    ap.add_argument("--auto-threads", type=int, default=4,
                    help="encoding threads auto is given (--threads), the "
                         "CPUs per side its verdicts are judged at "
                         "(default 4)")
    ap.add_argument("--json", help="write every run's figures here")
    ap.add_argument("streams", nargs="+")
    a = ap.parse_args()
    if a.runs < 1 or a.runs > 99:
        die("--runs takes 1 to 99")
    if a.auto_threads < 1 or a.auto_threads > SENDER_THREADS_MAX:
        die("--auto-threads takes 1 to %d" % SENDER_THREADS_MAX)
    for s in a.streams:
        if not os.path.isfile(s):
            die("no stream " + s)
    with tempfile.TemporaryDirectory(prefix="bench-cost.") as work:
        b = Bench(a, work)
        methods = a.methods.split(",")

        def run(stream, m):
            """One run of method m; spar: the CPUs the sender can use (the
            channel's one thread per CPU, up to its 64, auto the threads
            it is given; the peer tools one); rpar: the receiver's
            threads (the channel's two stages; the peer tools one)."""
            if m in PEERS:
                r = b.run_pipe(stream, *PEERS[m])
                r.update(spar=1, rpar=1, rnet=0, rdec=0)
                return r
            codec, kw, spar = m, {}, SENDER_THREADS_MAX
            if ":" in m:
                codec, level = m.split(":")
                kw = dict(level=int(level))
            if m == "plain-none":
                codec, kw = "none", dict(tls=False)
            elif m.startswith("auto@"):
                codec, kw = "auto", dict(rate=int(m[5:-1]) * 1e9 / 8)
            elif "-cache" in m:
                codec, mib = m.split("-cache")
                kw = dict(cache_mib=int(mib))
            if codec == "auto":
                spar = a.auto_threads
            r = b.run_channel(stream, codec, **kw)
            r.update(spar=spar, rpar=2)
            return r

        results = {}
        for stream in a.streams:
            name = os.path.basename(stream).rsplit(".", 1)[0]
            size = os.path.getsize(stream)
            ms = list(methods)
            if "auto" in methods and a.auto_rates:
                ms += ["auto@%sg" % g for g in a.auto_rates.split(",")]
            if name == "busy-rounds" and a.caches:
                ms += ["zstd-cache%d" % int(c) for c in a.caches.split(",")]
            runs = {m: [] for m in ms}
            for _ in range(a.runs):
                for m in ms:
                    runs[m].append(run(stream, m))
            med = {}
            for m in ms:
                med[m] = {k: statistics.median(r[k] for r in runs[m])
                          for k in runs[m][0]}
            results[name] = dict(size=size, runs=runs, median=med)
            report(name, size, med, ms, a.runs)
        aes = aes_gcm_cpu_per_gb()
        print("\nbench-cost: this machine writes fresh memory for %.2f "
              "CPU-s/GB (4 KiB pages), %.2f (huge pages), and the same "
              "memory again for %.2f: the kernel zeroes a page on its "
              "first touch, which the page caches pay once" %
              first_touch_cpu_per_gb())
        verdicts(results, aes)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=1)


def report(name, size, med, ms, runs):
    g = size / GB
    print("\nbench-cost: %s, %.0f MB, medians of %d; CPU-s per GB of stream"
          % (name, size / 1e6, runs))
    hdr = "%-13s %9s %6s %7s %7s %7s %7s %7s %7s %6s" % (
        "method", "wire MB", "ratio", "snd/GB", "rcv/GB", "net/GB",
        "dec/GB", "sndRSS", "rcvRSS", "wall")
    for gbps in RATES:
        for T in TS:
            hdr += " %7s" % ("t%dG/T%d" % (gbps, T))
    print(hdr)
    for m in ms:
        r = med[m]
        stage = ("%7.2f %7.2f" % (r["rnet"] / g, r["rdec"] / g)
                 if r["rpar"] > 1 else "%7s %7s" % ("-", "-"))
        line = "%-13s %9.1f %6.3f %7.2f %7.2f %s %6.0fM %6.0fM %5.2fs" % (
            m, r["wire"] / 1e6, r["wire"] / size, r["scpu"] / g,
            r["rcpu"] / g, stage, r["srss"], r["rrss"], r["wall"])
        for gbps in RATES:
            for T in TS:
                line += " %7.2f" % t_of(r, gbps, T)
        print(line)
    print("(net/dec: our receiver's network and decode stages; wall: one "
          "2-core machine, sender, relay and receiver sharing it; t: two "
          "hosts, from the CPU and wire figures)")


def verdict(ok, text):
    print("%-8s %s" % ("met" if ok else "NOT MET", text))


def verdicts(results, aes):
    print("\nbench-cost: targets (docs/bench.md, \"bench-cost\")")
    for name, res in results.items():
        g = res["size"] / GB
        med = res["median"]
        if "none" in med:
            r = med["none"]
            verdict(r["scpu"] / g <= 0.6 and r["rcpu"] / g <= 0.6,
                    "%s: codec none with TLS, each side <= 0.60 CPU-s/GB: "
                    "sender %.2f, receiver %.2f"
                    % (name, r["scpu"] / g, r["rcpu"] / g))
        if "none" in med and "plain-none" in med:
            s = (med["none"]["scpu"] - med["plain-none"]["scpu"]) / g
            rr = (med["none"]["rcpu"] - med["plain-none"]["rcpu"]) / g
            verdict(max(s, rr) <= 1.5 * aes,
                    "%s: TLS adds <= 1.5x openssl's AES-256-GCM (%.2f "
                    "CPU-s/GB): sender %+.2f, receiver %+.2f"
                    % (name, aes, s, rr))
        for c in ("lz4", "zstd", "zstd:3", "auto"):
            if c in med:
                r = med[c]
                ratio = r["scpu"] / r["rcpu"] if r["rcpu"] > 0 else 0
                verdict(ratio >= 3,
                        "%s: %s decodes >= 3x faster than it encodes per "
                        "core: %.2fx" % (name, c, ratio))

        def auto_at(gbps):
            """auto's run behind a link of that rate, else unthrottled"""
            return med.get("auto@%dg" % gbps, med["auto"])

        def at(m, gbps):
            """method m's figures for a link of that rate"""
            return auto_at(gbps) if m == "auto" else med[m]

        if "rounds" in name and "xapi" in med:
            x = t_of(med["xapi"], 1, 4)
            best = min((m for m in med if m in FIXED + ("auto",)),
                       key=lambda m: t_of(at(m, 1), 1, 4),
                       default=None)
            if best:
                t = t_of(at(best, 1), 1, 4)
                verdict(t <= 0.6 * x,
                        "%s: 1 Gb/s, T=4: t <= 0.6x xapi's pipe: %s %.2f s "
                        "vs %.2f s (%.2fx)" % (name, best, t, x, t / x))
        if "auto" in med and "none" in med:
            ta = t_of(auto_at(10), 10, 4)
            tn = t_of(med["none"], 10, 4)
            verdict(ta <= tn, "%s: 10 Gb/s, T=4: t of auto <= t of none: "
                    "%.2f s vs %.2f s" % (name, ta, tn))
            for gbps in RATES:
                fixed = {m: t_of(med[m], gbps, 4)
                         for m in FIXED if m in med}
                bm = min(fixed, key=fixed.get)
                ta = t_of(auto_at(gbps), gbps, 4)
                verdict(ta <= 1.1 * fixed[bm],
                        "%s: %d Gb/s, T=4: auto within 10%% of the best "
                        "fixed codec (%s %.2f s): %.2f s"
                        % (name, gbps, bm, fixed[bm], ta))
        for m in med:
            if "-cache" in m:
                cache = int(m.split("-cache")[1])
                r = med[m]
                extra = max(r["srss"], r["rrss"]) - cache
                verdict(extra <= 64,
                        "%s: page cache %d MiB: at most 64 MiB per side "
                        "beyond it: sender %.0f MiB, receiver %.0f MiB "
                        "(ratio %.3f)" % (name, cache, r["srss"] - cache,
                                          r["rrss"] - cache,
                                          r["wire"] / res["size"]))


if __name__ == "__main__":
    main()
