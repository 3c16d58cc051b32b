#!/usr/bin/python3
"""Whole replay against an empty libpcap loop, measured in one run.

Builds the bench preset (Release), writes the 10-million-packet header-only synthetic capture
(`weighbridge synth --scenario bench-10m --snaplen 128`) unless it exists, then times, alternately
and several times each: the empty libpcap loop (bench/pcap_loop_baseline.cc) and
`weighbridge replay` with 1 and 2 workers, reading with weighbridge's own chunked pcap reader (the
default for classic pcap files) and, as `+libpcap`, with libpcap's reader (WB_PCAP_READER=libpcap).
Prints each run's seconds, Mpps, peak RSS and the ratio of medians to the loop.

usage: bench/replay_vs_loop.py [--rounds N] [--capture FILE] [--workers 1,2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")


def run_measured(cmd, env=None):
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        if env:
            os.environ.update(env)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        out = os.open(BASE_OUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    secs = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed with {os.waitstatus_to_exitcode(status)}")
    with open(BASE_OUT) as f:
        out = f.read()
    return secs, usage.ru_maxrss / 1024.0, out


BASE_OUT = "/tmp/wb-bench-stdout.txt"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--capture", default=os.path.join(BUILD, "bench-10m.pcap"))
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()

    subprocess.run(["cmake", "--preset", "bench"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "--target", "weighbridge", "pcap_loop_baseline"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wb = os.path.join(BUILD, "weighbridge")
    loop = os.path.join(BUILD, "bench", "pcap_loop_baseline")
    if not os.path.exists(args.capture):
        t0 = time.monotonic()
        subprocess.run([wb, "synth", "--scenario", "bench-10m", "--snaplen", "128", "--truth", "none",
                        "--out", args.capture], check=True)
        print(f"wrote {args.capture} ({os.path.getsize(args.capture) / 1e6:.0f} MB) in "
              f"{time.monotonic() - t0:.1f} s")

    workers = [int(w) for w in args.workers.split(",")]
    results = {"loop": []}
    for w in workers:
        results[f"replay_w{w}"] = []
        results[f"replay_w{w}+libpcap"] = []
    frames = None
    for _ in range(args.rounds):
        secs, rss, out = run_measured([loop, args.capture])
        frames = json.loads(out)["frames"]
        results["loop"].append((secs, rss))
        for w in workers:
            cmd = [wb, "replay", args.capture, "--workers", str(w), "--no-progress",
                   "--summary-json", "/dev/null"]
            secs, rss, _ = run_measured(cmd)
            results[f"replay_w{w}"].append((secs, rss))
            secs, rss, _ = run_measured(cmd, {"WB_PCAP_READER": "libpcap"})
            results[f"replay_w{w}+libpcap"].append((secs, rss))

    base = statistics.median(s for s, _ in results["loop"])
    print(f"\ncapture: {args.capture}: {frames} frames; {args.rounds} rounds, medians; "
          f"{os.cpu_count()} cores")
    print(f"{'what':<20}{'seconds':>10}{'Mpps':>10}{'peak MiB':>10}{'x loop':>9}")
    for name, runs in results.items():
        med = statistics.median(s for s, _ in runs)
        rss = max(r for _, r in runs)
        print(f"{name:<20}{med:>10.3f}{frames / med / 1e6:>10.2f}{rss:>10.0f}{med / base:>9.2f}")


if __name__ == "__main__":
    main()
