#!/usr/bin/python3
"""Flow-protocol input: sFlow datagrams and samples per second per core, against pmacct's sfacctd.

Writes the sampled week of tests/integration/flowproto_sampled.py (about 96,000 sFlow v5
datagrams, 956,000 flow samples at 1:10 000, 81 TB of ingest scaled back) as a pcap, then in the
same run: `weighbridge replay` with an sflow source (decodes every sampled header, scales by the
rate, accounts flows, transfers and detectors) and `sfacctd -I FILE -R` (pmacct reading the same
savefile, renormalising, aggregating by address pair into a print plugin). Both read one file on
one core; the table gives wall seconds, CPU seconds (user + system, the child's own rusage) and
samples per CPU second, and the ratio of CPU seconds. sfacctd's wall time includes its print
plugin's purge cycle, so CPU time is the fair comparison.

usage: bench/flowproto_bench.py [--build build] [--rounds 3]
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import flowproto_sampled  # noqa: E402  (the sampled-week maker)


def measured(cmd, cwd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr.decode()[-300:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    wb = os.path.abspath(os.path.join(args.build, "weighbridge"))
    if not os.access(wb, os.X_OK):
        sys.exit("%s not built" % wb)
    if shutil.which("sfacctd") is None:
        sys.exit("sfacctd not installed (Debian package pmacct; scripts/deps installs it)")
    work = tempfile.mkdtemp(prefix="wb-flowproto-bench-")
    try:
        cap = os.path.join(work, "week.pcap")
        _, datagrams, samples, _ = flowproto_sampled.make_capture(cap, 1)
        cfg = os.path.join(work, "wb.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write("site:\n  inside: [10.0.0.0/8]\ncapture:\n"
                     "  - {type: sflow, listen: 0.0.0.0:%d, exporters: [%s/32]}\n"
                     % (flowproto_sampled.PORT, flowproto_sampled.AGENT))
        runs = {"weighbridge replay": [], "sfacctd -I": []}
        for _ in range(args.rounds):
            runs["weighbridge replay"].append(measured(
                [wb, "replay", cap, "--config", cfg, "--no-progress", "--summary-json",
                 os.path.join(work, "s.json")], work))
            runs["sfacctd -I"].append(measured(
                ["sfacctd", "-I", cap, "-R", "-P", "print", "-c", "src_host,dst_host", "-O",
                 "csv", "-o", os.path.join(work, "sfacct.csv")], work))
        print("input: %d sFlow datagrams, %d flow samples (%.0f MB pcap); %d rounds, medians"
              % (datagrams, samples, os.path.getsize(cap) / 1e6, args.rounds))
        print("%-20s %8s %8s %14s %14s" % ("what", "wall s", "CPU s", "samples/CPU s",
                                           "datagrams/CPU s"))
        med = {}
        for name, rs in runs.items():
            wall = statistics.median(w for w, _ in rs)
            cpu = statistics.median(c for _, c in rs)
            med[name] = cpu
            print("%-20s %8.2f %8.2f %14.0f %14.0f" % (name, wall, cpu, samples / cpu,
                                                        datagrams / cpu))
        print("CPU time, sfacctd / weighbridge: %.2f" % (med["sfacctd -I"] /
                                                          med["weighbridge replay"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
