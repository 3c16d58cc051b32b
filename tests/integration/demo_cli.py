#!/usr/bin/python3
"""demo_cli: `weighbridge demo` shows every detector firing and serves metrics while it runs.

Runs the demo with --metrics on a free loopback port and --linger, scrapes /metrics during the
linger, and checks: exit 0; the summary lists an ended alert of each of the four kinds, the
weight transfer matching a model; the scrape's frame count equals the frames the summary printed,
and it counts alerts of all four kinds. The demo's generator is the same as `weighbridge synth
--scenario demo`, whose truth gives the frame count independently.

usage: demo_cli.py --binary PATH
"""

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

KINDS = ("weight_transfer", "dataset_ingest", "staging_ingest", "train_and_return")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    failures = wbtest.Failures()
    check = failures.check
    work = wbtest.temp_dir("wb-demo-")
    try:
        port = wbtest.free_port()
        out_path = os.path.join(work, "demo.out")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen([args.binary, "demo", "--metrics", "127.0.0.1:%d" % port,
                                     "--linger", "20s"], stdout=out, stderr=subprocess.STDOUT)
        # The summary is printed before the linger: wait for it, then scrape.
        text = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "alerts:" not in text:
            time.sleep(0.2)
            with open(out_path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        time.sleep(0.5)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                scrape = r.read().decode()
        except OSError as e:
            scrape = ""
            failures.fail("no metrics at 127.0.0.1:%d while the demo lingered: %s" % (port, e))
        proc.terminate()
        proc.wait(timeout=30)
        for kind in KINDS:
            check(re.search(r"^  %s \w+ .*" % kind, text, re.M) is not None,
                  "the demo's summary lists no ended %s alert" % kind)
        check("matches Llama" in text or "matches " in text, "no model match in the summary")
        m = re.search(r"^traffic\s+(\d+) frames", text, re.M)
        check(m is not None, "no traffic line in the summary")
        got = re.search(r"^weighbridge_frames_total (\d+)", scrape, re.M)
        check(got is not None, "no weighbridge_frames_total in the scrape")
        if m and got:
            check(int(got.group(1)) == int(m.group(1)), "scrape frames %s, summary %s"
                  % (got.group(1), m.group(1)))
        for kind in KINDS:
            n = sum(int(v) for v in re.findall(
                r'^weighbridge_alerts_total\{kind="%s",severity="\w+"\} (\d+)' % kind, scrape,
                re.M))
            check(n > 0, "the scrape counts no %s alerts" % kind)
        # Independent frame count: the same scenario written by the generator.
        pcap = os.path.join(work, "demo.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "demo", "--out", pcap, "--snaplen",
                        "96", "--truth", "none"], timeout=120)
        if check(p.returncode == 0, "synth demo: %s" % p.stderr.decode()[-200:]) and m:
            frames = len(wbtest.read_capture(pcap).records)
            check(frames == int(m.group(1)), "the demo read %s frames, the generator wrote %d"
                  % (m.group(1), frames))
        print("demo: %s frames, metrics served, four alert kinds" % (m.group(1) if m else "?"))
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
