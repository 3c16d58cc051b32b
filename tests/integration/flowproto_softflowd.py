#!/usr/bin/env python3
"""softflowd (a real NetFlow v5/v9 and IPFIX exporter) reads a synthetic capture and exports
to weighbridge's live collector on loopback while tcpdump captures the datagrams; then the
capture of the datagrams is decoded by the flow-protocol replay source.

Ground truth, none of it from the flow parsers under test:
  - the offline `weighbridge replay` of the same synthetic capture (per direction of each
    5-tuple: packets and L3 bytes; softflowd exports exact IP-length octets);
  - softflowd's own per-protocol octet and packet totals (its exit statistics);
  - the number of records softflowd says it exported.
Checks: live collector totals == replay-of-captured-datagrams totals == ground truth, per key,
for IPFIX, NetFlow v9 and (IPv4 only) NetFlow v5; no datagram dropped by any reason.
"""

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

PORT_BASE = 39310


def run_driver(driver, args, timeout=60):
    p = subprocess.run([driver, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    if p.returncode != 0:
        raise RuntimeError("driver %s failed: %s" % (args[:2], p.stderr.decode()))
    return parse_driver(p.stdout.decode())


def parse_driver(text):
    records = collections.Counter()
    counters = None
    for line in text.splitlines():
        if not line.strip():
            continue
        o = json.loads(line)
        if o["kind"] == "record":
            k = (o["proto"], o["src"], o["sport"], o["dst"], o["dport"])
            records[k + ("packets",)] += o["scaled_packets"]
            records[k + ("bytes",)] += o["scaled_bytes"]
            records[k + ("payload_estimate",)] += o["payload_estimate"]
            records[("records",)] += o["count"]
        elif o["kind"] == "counters":
            counters = o
    return records, counters


def truth_from_replay(binary, capture, workdir):
    rc, flows, _, err, _ = wbtest.replay(binary, capture, workdir)
    if rc != 0 or flows is None:
        raise RuntimeError("weighbridge replay failed: " + err)
    t = collections.Counter()
    for f in flows:
        p = int(f["proto"])
        a = (p, f["a"], int(f["a_port"]), f["b"], int(f["b_port"]))
        b = (p, f["b"], int(f["b_port"]), f["a"], int(f["a_port"]))
        if int(f["a_to_b_packets"]):
            t[a + ("packets",)] += int(f["a_to_b_packets"])
            t[a + ("bytes",)] += int(f["a_to_b_bytes"])
            t[a + ("payload",)] += int(f["a_to_b_payload_bytes"])
        if int(f["b_to_a_packets"]):
            t[b + ("packets",)] += int(f["b_to_a_packets"])
            t[b + ("bytes",)] += int(f["b_to_a_bytes"])
            t[b + ("payload",)] += int(f["b_to_a_payload_bytes"])
    return t


def softflowd_stats(text):
    """Per-protocol (octets, packets) and the exported record count from softflowd's output."""
    per_proto = {}
    for m in re.finditer(r"^\s*\S+ \((\d+)\):\s+(\d+)\s+(\d+)\s", text, re.M):
        per_proto[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    m = re.search(r"Flows exported: \d+ \((\d+) records\)", text)
    return per_proto, int(m.group(1)) if m else None


def wait_for_line(proc, needle, timeout):
    deadline = time.time() + timeout
    buf = b""
    while time.time() < deadline:
        ch = proc.stderr.read1(4096) if hasattr(proc.stderr, "read1") else proc.stderr.read(1)
        if not ch:
            break
        buf += ch
        if needle in buf:
            return True
    return False


def export_once(args, capture, workdir, version, port):
    """softflowd -> live collector, with tcpdump capturing the datagrams. Returns
    (live records, live counters, path of the datagram capture, softflowd stdout)."""
    dgrams = os.path.join(workdir, "v%d.pcap" % version)
    tcpdump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n", "-U", "-B", "8192", "-w", dgrams, "udp and dst port %d" % port],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    collector = None
    try:
        if not wait_for_line(tcpdump, b"listening on", 15):
            raise RuntimeError("tcpdump did not start")
        collector = subprocess.Popen(
            [args.driver, "collect", "--input", "ipfix:%d:127.0.0.1/32" % port, "--idle-ms",
             "2000", "--timeout-s", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready = json.loads(collector.stdout.readline().decode() or "{}")
        if ready.get("kind") != "ready":
            raise RuntimeError("collector did not start: " + collector.stderr.read().decode())
        sfd = subprocess.run(
            ["softflowd", "-r", capture, "-n", "127.0.0.1:%d" % port, "-v", str(version),
             "-c", "none"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
            check=False)
        out, err = collector.communicate(timeout=90)
        if collector.returncode != 0:
            raise RuntimeError("collector failed: " + err.decode())
        live, live_counters = parse_driver(out.decode())
    finally:
        if collector is not None and collector.poll() is None:
            collector.kill()
            collector.wait()
        # tcpdump writes its statistics and closes the file on SIGINT.
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        try:
            _, tcpdump_err = tcpdump.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            tcpdump.kill()
            _, tcpdump_err = tcpdump.communicate()
    return live, live_counters, dgrams, sfd.stdout.decode(), tcpdump_err.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--scenario", default="edge-mix")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    wbtest.require_binary(args.driver)
    for tool in ("softflowd", "tcpdump"):
        if shutil.which(tool) is None:
            wbtest.skip("%s is not installed" % tool)
    if os.geteuid() != 0:
        wbtest.skip("tcpdump on lo needs root")

    fails = wbtest.Failures()
    workdir = wbtest.temp_dir("wb-flowproto-softflowd-")
    try:
        capture = os.path.join(workdir, "synth.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", args.scenario, "--out", capture],
                       timeout=120)
        if p.returncode != 0:
            fails.fail("synth failed: %s" % p.stderr.decode())
            fails.finish()
        truth = truth_from_replay(args.binary, capture, workdir)
        v4_truth = collections.Counter({k: v for k, v in truth.items() if ":" not in k[1]})
        for n, version in enumerate((10, 9, 5)):
            name = {10: "IPFIX", 9: "NetFlow v9", 5: "NetFlow v5"}[version]
            live, live_counters, dgrams, sfd_out, tcpdump_err = export_once(
                args, capture, workdir, version, PORT_BASE + n)
            per_proto, exported = softflowd_stats(sfd_out)
            dropped = re.search(r"(\d+) packets dropped by kernel", tcpdump_err)
            fails.check(dropped is not None and dropped.group(1) == "0",
                        "%s: tcpdump dropped datagrams: %r" % (name, tcpdump_err))
            replayed, counters = run_driver(
                args.driver, ["replay", dgrams, "--input", "ipfix:%d:127.0.0.1/32" % (PORT_BASE + n)])
            inputs = counters["inputs"][0]
            print("%s: %d datagrams, %d records (softflowd: %s), %d keys" %
                  (name, inputs["datagrams"], inputs["flow_records"], exported,
                   len([k for k in replayed if k[-1] == "bytes"])), flush=True)
            fails.check(inputs["datagrams"] > 0, "%s: no datagram in the capture" % name)
            fails.check(sum(inputs["dropped"].values()) == 0,
                        "%s: replay dropped: %s" % (name, inputs["dropped"]))
            fails.check(sum(live_counters["inputs"][0]["dropped"].values()) == 0,
                        "%s: live collector dropped: %s" % (name, live_counters["inputs"][0]["dropped"]))
            fails.check(inputs["flow_records"] == exported,
                        "%s: %d records decoded, softflowd exported %s" %
                        (name, inputs["flow_records"], exported))
            fails.check(live == replayed,
                        "%s: live collector and replay of the datagrams differ: %d keys differ" %
                        (name, len(set(live.items()) ^ set(replayed.items()))))
            want = v4_truth if version == 5 else truth
            # Payload: a flow record has no sequence numbers. app::ToFlowUpdate's estimate must
            # equal the replay's UDP payload exactly, bound the TCP payload from above (options,
            # retransmissions), and be 0 for other protocols.
            bad_payload = []
            for k, v in replayed.items():
                if k[-1] != "payload_estimate":
                    continue
                real = want.get(k[:-1] + ("payload",), 0)
                ok = (v == real if k[0] in (17, 1, 58) else
                      real <= v <= want.get(k[:-1] + ("bytes",), 0))
                if not ok:
                    bad_payload.append((k, real, v))
            fails.check(not bad_payload, "%s: %d payload estimates off, e.g. %s" %
                        (name, len(bad_payload), bad_payload[:3]))
            tcp_real = sum(v for k, v in want.items() if k[0] == 6 and k[-1] == "payload")
            tcp_est = sum(v for k, v in replayed.items() if k[0] == 6 and k[-1] == "payload_estimate")
            print("%s: TCP payload estimate %+.3f%% against the sequence-number payload" %
                  (name, 100.0 * (tcp_est - tcp_real) / max(tcp_real, 1)), flush=True)
            got = collections.Counter({k: v for k, v in replayed.items()
                                       if k != ("records",) and k[-1] != "payload_estimate"})
            want = collections.Counter({k: v for k, v in want.items() if k[-1] != "payload"})
            diff = [k for k in set(want) | set(got) if want.get(k, 0) != got.get(k, 0)]
            fails.check(not diff, "%s: %d of %d per-direction totals differ from the offline "
                        "replay, e.g. %s" % (name, len(diff), len(want),
                                             [(k, want.get(k), got.get(k)) for k in sorted(diff)[:3]]))
            if version != 5:
                for proto, (octets, packets) in per_proto.items():
                    b = sum(v for k, v in got.items() if k[0] == proto and k[-1] == "bytes")
                    pk = sum(v for k, v in got.items() if k[0] == proto and k[-1] == "packets")
                    fails.check((b, pk) == (octets, packets),
                                "%s: protocol %d: decoded %d octets / %d packets, softflowd "
                                "counted %d / %d" % (name, proto, b, pk, octets, packets))
    finally:
        wbtest.remove_dir(workdir)
    fails.finish()


if __name__ == "__main__":
    main()
