#!/usr/bin/python3
"""History store: write rate, bytes on disk per record, and query latency over a day and 30 days.

Fills two databases with `history_tool fill` (synthetic flow updates with transfers and alerts,
tests/unit/store/history_tool.cc) — one spanning 24 hours, one 30 days — then times each
`weighbridge history` query several times and prints medians. The write rate is set against the
baseline of writing the same number of records as JSON lines to a plain file in the same run
(what `--flows-out` costs), so the ratio says what the database's indexing and durability cost.

usage: bench/history_bench.py [--build build] [--updates 1000000] [--rounds 3]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QUERIES = [
    ("top", ["top"]),
    ("hosts --inside 10.0.0.7", ["hosts", "--inside", "10.0.0.7"]),
    ("transfers --format json", ["transfers", "--format", "json"]),
    ("alerts --format json", ["alerts", "--format", "json"]),
    ("flows --since 1h", ["flows", "--since", "1h", "--format", "json"]),
]


def timed(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr.decode()[-300:]))
    return secs, p.stdout


def json_baseline(n, path):
    # The same number of flow-sized JSON lines written to a file: the cost of --flows-out.
    line = json.dumps({"proto": 6, "a": "10.0.0.7", "a_port": 40000, "b": "198.51.100.7",
                       "b_port": 443, "vlan": 0, "a_to_b_bytes": 123456, "b_to_a_bytes": 4567,
                       "a_to_b_packets": 90, "b_to_a_packets": 45, "a_to_b_payload_bytes": 120000,
                       "b_to_a_payload_bytes": 0, "first": "2026-01-01T00:00:00.000000Z",
                       "last": "2026-01-01T00:01:00.000000Z"}) + "\n"
    t0 = time.monotonic()
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n):
            fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--updates", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tool = os.path.join(args.build, "tests", "history_tool")
    wb = os.path.join(args.build, "weighbridge")
    for exe in (tool, wb):
        if not os.access(exe, os.X_OK):
            sys.exit("%s not built (cmake --build %s)" % (exe, args.build))
    work = tempfile.mkdtemp(prefix="wb-history-bench-")
    try:
        base = json_baseline(args.updates, os.path.join(work, "flows.jsonl"))
        print("baseline: %d JSON lines to a file in %.2f s (%.0f records/s)"
              % (args.updates, base, args.updates / base))
        for label, hours in (("24 h", 24), ("30 days", 720)):
            db = os.path.join(work, "db-%d" % hours)
            secs, out = timed([tool, "fill", "--db", db, "--updates", str(args.updates),
                               "--hours", str(hours)])
            print("\n%s: fill %d updates in %.2f s (%.0f records/s wall, %.2f x the JSON "
                  "baseline's time); tool says: %s" % (label, args.updates, secs,
                                                       args.updates / secs, secs / base,
                                                       out.decode().strip().replace("\n", "; ")))
            print("  %-28s %10s" % ("query", "median s"))
            for name, q in QUERIES:
                runs = [timed([wb, "history", *q, "--db", db])[0] for _ in range(args.rounds)]
                print("  %-28s %10.3f" % (name, statistics.median(runs)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
