#!/usr/bin/python3
"""history_resume: a bulk upload split across two runs is one transfer with the full byte count.

The generator's `bulk-upload` (8 streams to 203.0.113.50) is replayed with --db, paced, and
stopped with SIGTERM in the middle. The replay saves its open transfers and detector state in the
history instead of ending them; its summary says how many frames it read. The rest of the capture
(every frame after those) is then replayed into the same history. Checks, against the
generator's truth:
- `weighbridge history transfers` holds exactly one transfer for the upload, with the truth's
  payload total (a retransmission straddling the cut can be counted twice, since the second run
  never saw the original: at most one segment per stream, stated and checked);
- the weight_transfer alert keeps its id across the two runs, its versions go on counting, and
  its final version is `ended` with the whole size.

usage: history_resume.py --binary PATH
"""

import argparse
import calendar
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

CONFIG = """site:
  inside: [10.0.0.0/8]
detect:
  weight_transfer: {min_size: 20MB}
"""
MSS = 1448


def rfc3339_ns(text):
    """'2026-01-01T00:00:00.123456Z' -> nanoseconds since the epoch."""
    whole, frac = text.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int(frac.ljust(9, "0"))
STREAMS = 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if "Resumable" not in wbtest.help_text(args.binary, "replay"):
        wbtest.skip("`weighbridge replay --help` does not describe resumable --db replays")
    failures = wbtest.Failures()
    check = failures.check
    work = wbtest.temp_dir("wb-resume-")
    try:
        cap = os.path.join(work, "bulk.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "bulk-upload", "--scale", "0.4",
                        "--snaplen", "96", "--out", cap], timeout=120)
        check(p.returncode == 0, "synth: %s" % p.stderr.decode()[-300:])
        truth = wbtest.load_jsonl(cap + ".truth.jsonl")
        upload = [f for f in truth if f["a"] == "10.30.1.10" and f["b"] == "203.0.113.50"]
        want = sum(f["a_to_b_payload_bytes"] for f in upload)
        check(len(upload) == STREAMS and want > 300_000_000, "truth upload: %d flows, %d bytes"
              % (len(upload), want))
        cfg = os.path.join(work, "wb.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(CONFIG)
        db = os.path.join(work, "db")
        records = wbtest.read_capture(cap).records
        first_ns = min(r[1] for r in records)
        # Truth times are RFC 3339 with microseconds: the upload's last packet, from the start.
        up_end = max(f["last"] for f in upload)
        up_end_ns = rfc3339_ns(up_end)
        span_s = (up_end_ns - first_ns) / 1e9
        # 1. The first run, paced so that the upload ends ~8 s in, stopped after ~3 s.
        sum1 = os.path.join(work, "sum1.json")
        alerts1 = os.path.join(work, "alerts1.jsonl")
        proc = subprocess.Popen([args.binary, "replay", cap, "--config", cfg, "--db", db,
                                 "--speed", "%.6f" % (span_s / 8.0), "--no-progress",
                                 "--summary-json", sum1, "--alerts-out", alerts1],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(3.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        check(proc.returncode == 1, "interrupted replay exit %d (want 1): %s"
              % (proc.returncode, err.decode()[-300:]))
        with open(sum1, encoding="utf-8") as fh:
            cut = json.load(fh)["frames"]
        check(0 < cut < len(records), "the first run read %d of %d frames: not a cut in the "
              "middle" % (cut, len(records)))
        # 2. The rest, into the same history.
        rest = os.path.join(work, "rest.pcap")
        wbtest.write_pcap(rest, records[0][0], records[cut:])
        alerts2 = os.path.join(work, "alerts2.jsonl")
        p = wbtest.run([args.binary, "replay", rest, "--config", cfg, "--db", db, "--no-progress",
                        "--alerts-out", alerts2], timeout=120)
        check(p.returncode == 0, "second replay: %s" % p.stderr.decode()[-300:])
        check(b"restored" in p.stderr, "the second run did not say it restored state: %r"
              % p.stderr.decode()[-300:])
        # 3. History: one transfer, the whole upload.
        p = wbtest.run([args.binary, "history", "transfers", "--db", db, "--format", "json"],
                       timeout=60)
        check(p.returncode == 0, "history transfers: %s" % p.stderr.decode()[-300:])
        ts = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
        ups = [t for t in ts if t.get("inside") == "10.30.1.10"
               and str(t.get("external")).startswith("203.0.113.")]
        check(len(ups) == 1, "the upload is %d transfers in history: %r"
              % (len(ups), [(t.get("id"), t.get("sent_payload_bytes")) for t in ups]))
        if ups:
            got = ups[0]["sent_payload_bytes"]
            slack = STREAMS * MSS
            check(want <= got <= want + slack,
                  "history transfer payload %d, truth %d (allowed: up to %d more, one "
                  "retransmitted segment per stream at the cut)" % (got, want, slack))
            print("cut after frame %d of %d; one transfer of %d payload bytes, truth %d (%+d)"
                  % (cut, len(records), got, want, got - want))
        # 4. The alert goes on with the same id.
        a1 = [a for a in wbtest.load_jsonl(alerts1) if a["kind"] == "weight_transfer"]
        a2 = [a for a in wbtest.load_jsonl(alerts2) if a["kind"] == "weight_transfer"]
        check(bool(a1) and all(a["state"] == "active" for a in a1),
              "first run's alert versions: %r" % [(a["version"], a["state"]) for a in a1])
        check(bool(a2) and {a["id"] for a in a2} == {a1[0]["id"]} if a1 else False,
              "the second run's weight alerts have ids %r, the first run's %r"
              % (sorted({a["id"] for a in a2}), a1[0]["id"] if a1 else None))
        if a1 and a2:
            check(a2[0]["version"] == a1[-1]["version"] + 1,
                  "versions: first run ended at %d, second run began at %d"
                  % (a1[-1]["version"], a2[0]["version"]))
            check(a2[-1]["state"] == "ended" and a2[-1]["payload_bytes"] >= want,
                  "final version: %s with %d bytes" % (a2[-1]["state"], a2[-1]["payload_bytes"]))
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
