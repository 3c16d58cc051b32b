#!/usr/bin/env python3
"""pmacctd's sfprobe plugin (a real sFlow v5 agent) samples a synthetic capture 1-in-N and
exports sFlow to weighbridge's live collector on loopback, while tcpdump captures the datagrams;
then the capture of the datagrams is decoded by the flow-protocol replay source.

Ground truth, none of it from the code under test:
  - tshark's sFlow dissector on the same datagrams (sampling rate, and the IPv4/IPv6 length of
    every sampled header): per (source, destination) pair, samples x rate and L3 bytes x rate
    must equal ours exactly;
  - the offline `weighbridge replay` of the unsampled capture: the scaled-up total must be within
    the sampling error stated below (3 sigma of a 1-in-N packet sample, with per-packet lengths
    bounded by 1518 bytes: sigma <= sqrt((N - 1) * 1518 * total_bytes)).
Also: live collector totals == replay totals, and no datagram is dropped by any reason.
"""

import argparse
import collections
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402
from flowproto_softflowd import wait_for_line  # noqa: E402

PORT = 39330
RATE = 10


def parse_driver(text):
    pairs = collections.Counter()
    counters = None
    for line in text.splitlines():
        o = json.loads(line)
        if o["kind"] in ("sample", "traffic"):
            k = (o["src"], o["dst"])
            pairs[k + ("packets",)] += o["scaled_packets"]
            pairs[k + ("bytes",)] += o["scaled_bytes"]
        elif o["kind"] == "counters":
            counters = o
    return pairs, counters


def canon(addr):
    """IPv4 as dotted quad, IPv6 in the form weighbridge prints (Python's compressed form)."""
    import ipaddress
    return str(ipaddress.ip_address(addr))


def tshark_pairs(dgrams, port):
    p = subprocess.run(
        ["tshark", "-r", dgrams, "-d", "udp.port==%d,sflow" % port, "-T", "fields", "-E",
         "separator=|", "-e", "sflow.flow_sample.sampling_rate", "-e", "ip.src", "-e", "ip.dst",
         "-e", "ip.len", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.plen"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    if p.returncode != 0:
        raise RuntimeError("tshark failed: " + p.stderr.decode())
    pairs = collections.Counter()
    rates = set()
    for line in p.stdout.decode().splitlines():
        f = line.split("|")
        if not f[0]:
            continue  # counter samples only
        rate_list = [int(x) for x in f[0].split(",")]
        rates.update(rate_list)
        rate = rate_list[0]
        src4, dst4, len4 = (x.split(",") if x else [] for x in f[1:4])
        # The first IPv4 header is the datagram's own (127.0.0.1 -> 127.0.0.1).
        for s, d, n in zip(src4[1:], dst4[1:], len4[1:]):
            pairs[(canon(s), canon(d), "packets")] += rate
            pairs[(canon(s), canon(d), "bytes")] += int(n) * rate
        src6, dst6, len6 = (x.split(",") if x else [] for x in f[4:7])
        for s, d, n in zip(src6, dst6, len6):
            pairs[(canon(s), canon(d), "packets")] += rate
            pairs[(canon(s), canon(d), "bytes")] += (int(n) + 40) * rate
    return pairs, rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--scenario", default="edge-mix")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    wbtest.require_binary(args.driver)
    for tool in ("pmacctd", "tcpdump", "tshark"):
        if shutil.which(tool) is None:
            wbtest.skip("%s is not installed" % tool)
    if os.geteuid() != 0:
        wbtest.skip("tcpdump on lo needs root")

    fails = wbtest.Failures()
    workdir = wbtest.temp_dir("wb-flowproto-sflow-")
    tcpdump = collector = None
    try:
        capture = os.path.join(workdir, "synth.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", args.scenario, "--out", capture],
                       timeout=120)
        if p.returncode != 0:
            fails.fail("synth failed: %s" % p.stderr.decode())
            fails.finish()
        _, _, summary, err, _ = wbtest.replay(args.binary, capture, workdir)
        if summary is None:
            fails.fail("replay failed: " + err)
            fails.finish()
        truth_bytes = summary["bytes"]

        conf = os.path.join(workdir, "pmacctd.conf")
        with open(conf, "w") as fh:
            fh.write("daemonize: false\npcap_savefile: %s\nplugins: sfprobe\n"
                     "sfprobe_receiver: 127.0.0.1:%d\nsfprobe_agentip: 127.0.0.1\n"
                     "sampling_rate: %d\nplugin_pipe_size: 102400000\n"
                     "plugin_buffer_size: 102400\n" % (capture, PORT, RATE))
        dgrams = os.path.join(workdir, "sflow.pcap")
        tcpdump = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-U", "-B", "16384", "-w", dgrams,
             "udp and dst port %d" % PORT], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for_line(tcpdump, b"listening on", 15):
            fails.fail("tcpdump did not start")
            fails.finish()
        collector = subprocess.Popen(
            [args.driver, "collect", "--input", "sflow:%d:127.0.0.1/32" % PORT, "--idle-ms",
             "3000", "--timeout-s", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready = json.loads(collector.stdout.readline().decode() or "{}")
        if ready.get("kind") != "ready":
            fails.fail("collector did not start: " + collector.stderr.read().decode())
            fails.finish()
        pm = subprocess.run(["pmacctd", "-f", conf], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=90, check=False)
        if pm.returncode != 0:
            fails.fail("pmacctd failed: " + pm.stdout.decode()[-2000:])
        out, cerr = collector.communicate(timeout=90)
        if collector.returncode != 0:
            fails.fail("collector failed: " + cerr.decode())
        live, live_counters = parse_driver(out.decode())
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        _, terr = tcpdump.communicate(timeout=15)
        fails.check(re.search(rb"(^|\n)0 packets dropped by kernel", terr) is not None,
                    "tcpdump dropped datagrams: %r" % terr)

        d = subprocess.run([args.driver, "replay", dgrams, "--input",
                            "sflow:%d:127.0.0.1/32" % PORT], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, check=False)
        if d.returncode != 0:
            fails.fail("driver replay failed: " + d.stderr.decode())
            fails.finish()
        ours, counters = parse_driver(d.stdout.decode())
        inputs = counters["inputs"][0]
        theirs, rates = tshark_pairs(dgrams, PORT)
        print("sFlow 1:%d: %d datagrams, %d samples decoded, %d counter samples; tshark rates %s"
              % (RATE, inputs["datagrams"], inputs["sampled_packets"], inputs["counter_samples"],
                 sorted(rates)), flush=True)
        fails.check(inputs["sampled_packets"] > 1000, "too few samples decoded")
        fails.check(rates == {RATE}, "pmacctd sampled at %s, not 1:%d" % (rates, RATE))
        fails.check(sum(inputs["dropped"].values()) == 0, "replay dropped: %s" % inputs["dropped"])
        fails.check(sum(live_counters["inputs"][0]["dropped"].values()) == 0,
                    "live collector dropped: %s" % live_counters["inputs"][0]["dropped"])
        diff = [k for k in set(ours) | set(theirs) if ours.get(k, 0) != theirs.get(k, 0)]
        fails.check(not diff, "%d of %d per-pair totals differ from tshark's decode, e.g. %s" %
                    (len(diff), len(theirs), [(k, theirs.get(k), ours.get(k))
                                              for k in sorted(diff)[:3]]))
        fails.check(live == ours, "live collector and replay of the datagrams differ")
        scaled = sum(v for k, v in ours.items() if k[-1] == "bytes")
        sigma = math.sqrt((RATE - 1) * 1518 * truth_bytes)
        err_pct = 100.0 * (scaled - truth_bytes) / truth_bytes
        print("scaled-up bytes %d vs unsampled %d: %+.3f%% (3 sigma bound %.2f%%)" %
              (scaled, truth_bytes, err_pct, 300.0 * sigma / truth_bytes), flush=True)
        fails.check(abs(scaled - truth_bytes) <= 3 * sigma,
                    "scaled-up bytes %d are more than 3 sigma (%d) from %d" %
                    (scaled, 3 * sigma, truth_bytes))
    finally:
        for proc in (collector, tcpdump):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        wbtest.remove_dir(workdir)
    fails.finish()


if __name__ == "__main__":
    main()
