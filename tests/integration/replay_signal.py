#!/usr/bin/python3
"""replay_signal: SIGTERM in the middle of a replay flushes every flow and still writes the outputs.

A capture is fed through a pipe that stays open after part of the file, so the replay is
blocked reading when SIGTERM arrives. It must exit within a bounded time with status 1, say in
the summary that it was interrupted, and have written every flow it had: the flows' packets add
up to the summary's accounted packets, which equal what the test itself counts in the part of
the capture it fed (every record in it is a whole IP packet).

usage: replay_signal.py --binary PATH
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    failures = wbtest.Failures()
    work = wbtest.temp_dir("wb-signal-")
    try:
        cap = os.path.join(work, "edge.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "edge-mix", "--out", cap,
                        "--truth", "none"], timeout=120)
        if p.returncode != 0:
            failures.fail("synth failed: %s" % p.stderr.decode()[-300:])
            failures.finish()
        with open(cap, "rb") as fh:
            blob = fh.read()
        # Whole records only, so the part fed is a valid capture of a known number of packets.
        read = wbtest.read_capture(cap)
        fed_records = len(read.records) // 3
        cut = 24
        for rec in read.records[:fed_records]:
            cut += 16 + rec[2]  # record header + captured length
        flows_out = os.path.join(work, "flows.jsonl")
        summary_out = os.path.join(work, "summary.json")
        proc = subprocess.Popen([args.binary, "replay", "-", "--no-progress", "--flows-out",
                                 flows_out, "--summary-json", summary_out],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        proc.stdin.write(blob[:cut])
        proc.stdin.flush()  # the pipe stays open: the replay waits for more
        # write() returned once the replay had read all but the pipe buffer; let it take the rest.
        time.sleep(2.0)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            failures.fail("replay did not stop within 10 s of SIGTERM")
            failures.finish()
        proc.stdin.close()
        took = time.monotonic() - start
        failures.check(proc.returncode == 1, "exit status %d after SIGTERM, want 1 (%s)"
                       % (proc.returncode, err.decode()[-300:]))
        with open(summary_out, encoding="utf-8") as fh:
            summary = json.load(fh)
        failures.check("interrupted" in (summary.get("input_error") or ""),
                       "input_error %r" % summary.get("input_error"))
        failures.check(summary["frames"] == fed_records,
                       "frames %d, the test fed %d" % (summary["frames"], fed_records))
        with open(flows_out, encoding="utf-8") as fh:
            flows = [json.loads(line) for line in fh if line.strip()]
        packets = sum(f["a_to_b_packets"] + f["b_to_a_packets"] for f in flows)
        failures.check(packets == summary["ip_packets"] and packets == fed_records,
                       "flows hold %d packets, summary %d, fed %d"
                       % (packets, summary["ip_packets"], fed_records))
        print("SIGTERM after %d records: stopped in %.2f s, %d flows written"
              % (fed_records, took, len(flows)))
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
