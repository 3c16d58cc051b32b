#!/usr/bin/python3
"""history_crash: kill -9 a heavy history writer 20 times; nothing acknowledged may be lost.

history_tool crash-writer (tests/unit/store/history_tool.cc) writes records through
store::HistoryWriter in random-sized bursts and prints "ack N" after each Flush() that returned:
records START..N are acknowledged. Record i is a flow update whose `a` is 10.x.y.z from i's low
24 bits, with a_to_b_bytes 1000 + i % 50000, at 2026-01-01 + i ms; every 16th record is also an
alert with id i and bytes 10 * i. This script computes what each acknowledged record must look
like from i alone (not from anything the store printed).

20 runs (a fixed seed picks the moments): each starts the writer on the same database (so each
run also recovers the previous crash), kills it with SIGKILL at a random moment (mostly between
acknowledgements, some during start-up, before anything was acknowledged), then reads the
database with `weighbridge history flows|alerts --format json` and requires: exit 0, every line
JSON, every record present belongs to a written i and carries that i's bytes (nothing corrupt),
and every acknowledged record of every run so far is present. Even runs use sync policy
every-batch, odd runs interval (Flush() syncs under both, docs/history.md "Durability").

usage: history_crash.py --binary WEIGHBRIDGE --tool HISTORY_TOOL [--runs 20] [--seed 4]
"""

import argparse
import datetime
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SPACING = 1 << 19  # ids per run: runs never overlap, and 20 runs stay under 2^24 addresses


def rfc3339(i):
    """The stream time of record i (2026-01-01 + i ms) as RFC 3339."""
    t = T0 + datetime.timedelta(milliseconds=i)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def id_of_address(a):
    parts = [int(x) for x in a.split(".")]
    if len(parts) != 4 or parts[0] != 10:
        return None
    return (parts[1] << 16) | (parts[2] << 8) | parts[3]


def read_acks(proc, acks):
    for line in proc.stdout:
        line = line.decode("ascii", "replace")
        if line.startswith("ack ") and line.endswith("\n"):
            acks.append(int(line[4:]))


def query(binary, db, what, start, end, failures, label):
    """History records of [start, end) (ids) as dicts; None when the query failed."""
    p = wbtest.run([binary, "history", what, "--db", db, "--format", "json",
                    "--since", rfc3339(start - 1), "--until", rfc3339(end)], timeout=120)
    if not failures.check(p.returncode == 0, "%s: history %s exit %d: %s" % (
            label, what, p.returncode, p.stderr.decode("utf-8", "replace")[-500:])):
        return None
    try:
        return wbtest.parse_flows(p.stdout.decode("utf-8", "replace"), "history " + what)
    except ValueError as e:
        failures.fail("%s: %s" % (label, e))
        return None


def check_range(binary, db, start, acked, failures, label):
    """Every acked id in [start, acked] present and exact; nothing malformed in the run's range."""
    end = start + SPACING
    flows = query(binary, db, "flows", start, end, failures, label)
    if flows is None:
        return
    seen = set()
    for f in flows:
        i_low = id_of_address(f.get("a", ""))
        if i_low is None:
            failures.fail("%s: a flow that was never written: %r" % (label, f))
            continue
        i = (start & ~0xffffff) | i_low
        if i < start:
            i += 1 << 24
        ok = (start <= i < end and f["a_to_b_bytes"] == 1000 + i % 50000 and f["b"] == "198.51.100.1"
              and f["a_port"] == 40000 and f["b_port"] == 443 and f["proto"] == 6
              and f["a_to_b_packets"] == 1 and f["b_to_a_bytes"] == 0)
        if not failures.check(ok, "%s: flow %d is not what was written: %r" % (label, i, f)):
            continue
        failures.check(i not in seen, "%s: flow %d twice" % (label, i))
        seen.add(i)
    missing = [i for i in range(start, acked + 1) if i not in seen]
    failures.check(not missing, "%s: %d acknowledged flow(s) missing, first %r" % (
        label, len(missing), missing[:5]))
    alerts = query(binary, db, "alerts", start, end, failures, label)
    if alerts is None:
        return
    got = {}
    for a in alerts:
        i = int(a["id"], 16)
        failures.check(start <= i < end and i % 16 == 0 and a["bytes"] == 10 * i
                       and a["version"] == 1 and a["inside"] == "10.%d.%d.%d" % (
                           (i >> 16) & 255, (i >> 8) & 255, i & 255),
                       "%s: alert %r is not what was written" % (label, a))
        got[i] = a
    want = [i for i in range(start, acked + 1) if i % 16 == 0]
    missing = [i for i in want if i not in got]
    failures.check(not missing, "%s: %d acknowledged alert(s) missing, first %r" % (
        label, len(missing), missing[:5]))
    return len(seen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if not os.access(args.tool, os.X_OK):
        wbtest.skip("history_tool not found at %r" % args.tool)
    if "--db" not in wbtest.help_text(args.binary, "history"):
        wbtest.skip("this weighbridge has no history command")
    rng = random.Random(args.seed)
    failures = wbtest.Failures()
    work = wbtest.temp_dir("wb-history-crash-")
    db = os.path.join(work, "db")
    runs = []  # (start, acked)
    try:
        for k in range(args.runs):
            start = 1 + k * SPACING
            label = "run %d" % (k + 1)
            proc = subprocess.Popen(
                [args.tool, "crash-writer", "--db", db, "--start", str(start), "--seed", str(k),
                 "--sync", "every" if k % 2 == 0 else "interval", "--seconds", "20"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            acks = []
            reader = threading.Thread(target=read_acks, args=(proc, acks), daemon=True)
            reader.start()
            try:
                early = rng.random() < 0.2
                if early:
                    # During start-up or recovery of the previous crash.
                    time.sleep(rng.uniform(0.0, 0.4))
                else:
                    deadline = time.monotonic() + 30
                    while not acks and proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.005)
                    time.sleep(rng.uniform(0.0, 0.6))
                if proc.poll() is not None:
                    failures.fail("%s: the writer exited by itself (%s): %s" % (
                        label, proc.returncode, proc.stderr.read().decode()[-500:]))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                reader.join(timeout=30)
                proc.stdout.close()
                proc.stderr.close()
            acked = acks[-1] if acks else start - 1
            failures.check(acked < start + SPACING, "%s: wrote past its id range" % label)
            if not early:
                failures.check(acks, "%s: nothing acknowledged before the kill" % label)
            if not os.path.exists(os.path.join(db, "CURRENT")):
                # Killed before RocksDB created the database: nothing to read, nothing acked.
                failures.check(acked < start, "%s: acknowledged without a database" % label)
                print("%s: killed before the database existed" % label, flush=True)
                continue
            n = check_range(args.binary, db, start, acked, failures, label)
            print("%s: sync %s, killed %s, %d acknowledged, %s present" % (
                label, "every" if k % 2 == 0 else "interval",
                "early (0-0.4 s after start)" if early else "while writing", acked - start + 1, n),
                flush=True)
            runs.append((start, acked))
        # After all the crashes, every run's acknowledged records are still there.
        for k, (start, acked) in enumerate(runs):
            check_range(args.binary, db, start, acked, failures, "final check, run %d" % (k + 1))
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
