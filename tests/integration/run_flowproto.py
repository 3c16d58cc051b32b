#!/usr/bin/python3
"""run_flowproto: `weighbridge run` with live sFlow and NetFlow v5 inputs on loopback (no root).

The test is its own exporter: it sends, from 127.0.0.1, sFlow v5 datagrams (flow samples at
1:1000 of an inside host uploading 1500-byte packets to 203.0.113.9, and counter samples of two
agent interfaces) to the daemon's sflow input and NetFlow v5 datagrams (sampled 1:100, records
of an inbound transfer from 198.51.100.7) to its netflow input, plus datagrams from 127.0.0.2,
an exporter that is not allowed. Then, from the daemon's /metrics and its alert log:
  - per input: datagrams, samples, records and drops by reason equal what was sent;
  - the sFlow interface families equal each interface's last report;
  - packets accounted by the flow tables (sFlow) are the samples scaled by the rate, L3 bytes
    exactly samples x 1000 x 1500; the flow updates' inbound bytes include the NetFlow records
    scaled by their interval;
  - the upload's weight_transfer alert (min_size 1 GB, the upload is 3 GB) states its sampling
    error: samples = the samples sent, stddev = 1460 sqrt(k N (N - 1)) for k samples of 1460
    payload bytes at N = 1000;
  - `export.ipfix` to the test's own UDP socket: while the daemon runs (the link quiet, no message
    full), the watermark flush delivers IPFIX messages whose record count matches
    weighbridge_export_records_total;
  - SIGTERM: exit 0.

usage: run_flowproto.py --binary PATH
"""

import argparse
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

RATE = 1000            # sFlow sampling rate
L3 = 1500              # IP length of every sampled packet
PAYLOAD = L3 - 40      # IPv4 + TCP headers of 20 bytes each
SAMPLES = 2000         # 2000 x 1000 x 1460 = 2.92 GB of payload
PER_DATAGRAM = 8
V5_INTERVAL = 100      # NetFlow v5 sampling interval
V5_RECORDS = 60
INSIDE = "10.30.1.10"
PEER = "203.0.113.9"
V5_SRC = "198.51.100.7"
AGENT = "192.0.2.1"    # the agent address inside the sFlow header
STRANGER = "127.0.0.2"

CONFIG = """site:
  inside: [10.0.0.0/8]
capture:
  - {{type: sflow, listen: "127.0.0.1:{sflow}", exporters: [127.0.0.1/32]}}
  - {{type: netflow, listen: "127.0.0.1:{netflow}", exporters: [127.0.0.1/32]}}
detect:
  weight_transfer: {{min_size: 1GB, gap: 30s}}
metrics: {{listen: "127.0.0.1:{metrics}", health_listen: "127.0.0.1:{health}"}}
alerts: {{log: {log}}}
pipeline: {{idle_timeout: 2s, active_timeout: 2s}}
export:
  ipfix: [{{collector: "127.0.0.1:{ipfix}"}}]
"""


def ip4(s):
    return socket.inet_aton(s)


def flow_sample(seq):
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, L3, 0, 0x4000, 64, 6, 0, ip4(INSIDE), ip4(PEER))
    tcp = struct.pack("!HHIIBBHHH", 40000 + seq % 4, 443, 1 + seq, 0, 0x50, 0x10, 65535, 0, 0)
    header = (eth + ip + tcp + bytes(64))[:64]
    rec = struct.pack("!IIII", 1, L3 + 18, 4, len(header)) + header
    body = struct.pack("!IIIIIIII", seq, 3, RATE, seq * RATE, 0, 3, 4, 1)
    body += struct.pack("!II", 1, len(rec)) + rec
    return struct.pack("!II", 1, len(body)) + body


IFACES = {5: (25 * 10**9, 3), 6: (100 * 10**9, 1)}  # ifIndex: speed, status (bit 1: oper up)


def if_report(index, n):
    speed, status = IFACES[index]
    return {"index": index, "speed": speed, "status": status,
            "in_octets": 10**12 * index + n * 10**9, "in_pkts": 1000 * n + index,
            "in_discards": n, "in_errors": 2 * n,
            "out_octets": 7 * 10**11 + n * 3 * 10**8, "out_pkts": 500 * n,
            "out_discards": 3 * n, "out_errors": 0}


def counter_sample(seq, r):
    rec = struct.pack("!IIQIIQIIIIIIQIIIIII", r["index"], 6, r["speed"], 1, r["status"],
                      r["in_octets"], r["in_pkts"], 0, 0, r["in_discards"], r["in_errors"], 0,
                      r["out_octets"], r["out_pkts"], 0, 0, r["out_discards"], r["out_errors"],
                      0)
    body = struct.pack("!III", seq, r["index"], 1) + struct.pack("!II", 1, len(rec)) + rec
    return struct.pack("!II", 2, len(body)) + body


def sflow_datagram(seq, samples):
    return struct.pack("!II4sIIII", 5, 1, ip4(AGENT), 0, seq, 1000 + seq,
                       len(samples)) + b"".join(samples)


def v5_datagram(seq, records, now):
    """NetFlow v5: header (24 bytes) and 48-byte records; times relative to sys_uptime."""
    uptime_ms = 3_600_000
    hdr = struct.pack("!HHIIIIBBH", 5, len(records), uptime_ms, int(now), 0, seq, 0, 0,
                      (1 << 14) | V5_INTERVAL)  # mode 1 (deterministic), interval
    body = b""
    for i, (pkts, octets) in enumerate(records):
        first = uptime_ms - 3000
        last = uptime_ms - 100
        body += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", ip4(V5_SRC), ip4(INSIDE), ip4("0.0.0.0"),
                            1, 2, pkts, octets, first, last, 443, 50000 + (seq * 10 + i) % 5000,
                            0, 0x18, 6, 0, 0, 0, 24, 24, 0)
    return hdr + body


def total(m, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= set(ls))


def scrape(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=3) as r:
            return wbtest.parse_metrics(r.read().decode())
    except (OSError, urllib.error.URLError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    fails = wbtest.Failures()
    work = wbtest.temp_dir("wb-run-flowproto-")
    proc = None
    try:
        sflow_port = wbtest.free_port(socket.SOCK_DGRAM)
        v5_port = wbtest.free_port(socket.SOCK_DGRAM)
        metrics_port, health_port = wbtest.free_port(), wbtest.free_port()
        log = os.path.join(work, "alerts.jsonl")
        cfg = os.path.join(work, "run.yaml")
        collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(0.2)
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(CONFIG.format(sflow=sflow_port, netflow=v5_port, metrics=metrics_port,
                                   health=health_port, log=log,
                                   ipfix=collector.getsockname()[1]))
        err = open(os.path.join(work, "stderr.log"), "wb")
        proc = subprocess.Popen([args.binary, "run", "--config", cfg, "--log-format", "json"],
                                stdout=subprocess.DEVNULL, stderr=err)
        ready = wbtest.wait_for(lambda: scrape(metrics_port), 20)
        if not fails.check(ready is not None, "the daemon never served /metrics"):
            fails.finish()

        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.bind(("127.0.0.1", 0))
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind((STRANGER, 0))
        sent = {"sflow": 0, "v5": 0, "samples": 0, "counter_samples": 0, "records": 0,
                "v5_pkts": 0, "v5_octets": 0, "stranger": 0}
        last_report = {}
        seq = 0
        # About a second of traffic: sampled upload, interface reports, flow records, strangers.
        for d in range(SAMPLES // PER_DATAGRAM):
            samples = [flow_sample(seq + i) for i in range(PER_DATAGRAM)]
            seq += PER_DATAGRAM
            if d % 50 == 0:
                n = d // 50
                for index in IFACES:
                    last_report[index] = if_report(index, n)
                    samples.append(counter_sample(seq, last_report[index]))
                    sent["counter_samples"] += 1
                stranger.sendto(sflow_datagram(d, samples[:1]), ("127.0.0.1", sflow_port))
                sent["stranger"] += 1
            tx.sendto(sflow_datagram(d, samples), ("127.0.0.1", sflow_port))
            sent["sflow"] += 1
            sent["samples"] += PER_DATAGRAM
            if d % 25 == 0 and sent["records"] < V5_RECORDS:
                recs = [(10 + i, (10 + i) * 1400) for i in range(6)]
                tx.sendto(v5_datagram(sent["v5"], recs, time.time()), ("127.0.0.1", v5_port))
                sent["v5"] += 1
                sent["records"] += len(recs)
                sent["v5_pkts"] += sum(p for p, _ in recs)
                sent["v5_octets"] += sum(o for _, o in recs)
            time.sleep(0.004)  # paced: loopback UDP drops only when the socket buffer fills
        tx.close()
        stranger.close()
        print("sent %s" % sent, flush=True)

        sflow_src = ("source", "sflow:127.0.0.1:%d" % sflow_port)
        v5_src = ("source", "netflow:127.0.0.1:%d" % v5_port)

        def arrived():
            m = scrape(metrics_port)
            if not m:
                return None
            dg = m.get(("weighbridge_flow_input_datagrams_total", frozenset([sflow_src])))
            v5 = m.get(("weighbridge_flow_input_datagrams_total", frozenset([v5_src])))
            done = dg == sent["sflow"] + sent["stranger"] and v5 == sent["v5"]
            # ...and the flows have idled out into flow updates (idle timeout 2 s).
            inbound = total(m, "weighbridge_flow_bytes_total", direction="inbound")
            return m if done and inbound >= sent["v5_octets"] * V5_INTERVAL else None

        m = wbtest.wait_for(arrived, 30, 0.25)
        if not fails.check(m is not None, "the daemon never counted every datagram and record"):
            m = scrape(metrics_port) or {}
        val = lambda name, *ls: m.get((name, frozenset(ls)))  # noqa: E731
        fails.check(val("weighbridge_flow_input_samples_total", sflow_src) == sent["samples"],
                    "samples %r, sent %d" % (val("weighbridge_flow_input_samples_total",
                                                 sflow_src), sent["samples"]))
        fails.check(val("weighbridge_flow_input_interface_reports_total", sflow_src) ==
                    sent["counter_samples"], "interface reports")
        fails.check(val("weighbridge_flow_input_records_total", v5_src) == sent["records"],
                    "records %r, sent %d" % (val("weighbridge_flow_input_records_total", v5_src),
                                             sent["records"]))
        drops = {dict(ls)["reason"]: v for (n, ls), v in m.items()
                 if n == "weighbridge_flow_input_dropped_total" and sflow_src in ls and v}
        fails.check(drops == {"exporter_not_allowed": sent["stranger"]},
                    "sflow drops %r, want %d exporter_not_allowed" % (drops, sent["stranger"]))
        v5_drops = total(m, "weighbridge_flow_input_dropped_total", source=v5_src[1])
        fails.check(v5_drops == 0, "netflow drops %r" % v5_drops)
        for index, r in last_report.items():
            base = (("agent", AGENT), ("ifindex", str(index)))
            for name, d, want in [
                    ("weighbridge_sflow_interface_octets_total", "in", r["in_octets"]),
                    ("weighbridge_sflow_interface_octets_total", "out", r["out_octets"]),
                    ("weighbridge_sflow_interface_packets_total", "in", r["in_pkts"]),
                    ("weighbridge_sflow_interface_packets_total", "out", r["out_pkts"]),
                    ("weighbridge_sflow_interface_discards_total", "in", r["in_discards"]),
                    ("weighbridge_sflow_interface_discards_total", "out", r["out_discards"]),
                    ("weighbridge_sflow_interface_errors_total", "in", r["in_errors"])]:
                fails.check(val(name, *base, ("direction", d)) == want,
                            "%s if%d %s = %r, last report %d" %
                            (name, index, d, val(name, *base, ("direction", d)), want))
            fails.check(val("weighbridge_sflow_interface_up", *base) == (r["status"] >> 1) & 1,
                        "if%d oper status" % index)
        out_bytes = total(m, "weighbridge_bytes_total", direction="outbound")
        fails.check(out_bytes == sent["samples"] * RATE * L3,
                    "outbound L3 bytes %d, want samples x rate x %d = %d" %
                    (out_bytes, L3, sent["samples"] * RATE * L3))
        in_flow = total(m, "weighbridge_flow_bytes_total", direction="inbound")
        fails.check(in_flow == sent["v5_octets"] * V5_INTERVAL,
                    "inbound flow-update bytes %d, want NetFlow octets x %d = %d" %
                    (in_flow, V5_INTERVAL, sent["v5_octets"] * V5_INTERVAL))

        # IPFIX export while running: the link is quiet, so what arrived came from the
        # watermark flush. Data records per message from its data sets (set id >= 256) and the
        # template's record length (set 2 announces it).
        def received_records():
            n = 0
            rec_len = {}
            while True:
                try:
                    msg = collector.recv(65535)
                except OSError:
                    return n
                off = 16
                while off + 4 <= len(msg):
                    sid, slen = struct.unpack("!HH", msg[off:off + 4])
                    if sid == 2:  # template set: id, field count, (IE, length)...
                        t = off + 4
                        while t + 4 <= off + slen:
                            tid, nf = struct.unpack("!HH", msg[t:t + 4])
                            fields = struct.unpack("!%dH" % (2 * nf), msg[t + 4:t + 4 + 4 * nf])
                            rec_len[tid] = sum(fields[1::2])
                            t += 4 + 4 * nf
                    elif sid >= 256 and rec_len.get(sid):
                        n += (slen - 4) // rec_len[sid]
                    off += max(slen, 4)

        # Wait until every flow has idled out (the upload's 4 streams too) and the count of
        # exported records has stood still for two seconds.
        history = []

        def settled():
            history.append(total(scrape(metrics_port) or {}, "weighbridge_export_records_total"))
            return len(history) >= 5 and history[-1] == history[-5] and \
                history[-1] > sent["records"]

        fails.check(wbtest.wait_for(settled, 30, 0.5), "export records never settled: %r" %
                    history[-5:])
        exported = received_records()
        fails.check(exported == history[-1],
                    "IPFIX records received while running: %d, the metrics say %r exported" %
                    (exported, history[-1]))
        print("IPFIX export while running: %d records" % exported, flush=True)
        collector.close()

        # SIGTERM: exit 0, every transfer ended; then the alert log.
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        proc = None
        fails.check(rc == 0, "run exited %d after SIGTERM" % rc)
        alerts = wbtest.load_jsonl(log) if os.path.exists(log) else []
        ups = [a for a in alerts if a["kind"] == "weight_transfer" and a.get("inside") == INSIDE]
        if fails.check(ups, "no weight_transfer alert for the sampled 2.92 GB upload: %r" %
                       [(a["kind"], a.get("inside")) for a in alerts]):
            a = max(ups, key=lambda x: x["version"])
            s = a.get("sampling") or {}
            want_sd = PAYLOAD * math.sqrt(sent["samples"] * RATE * (RATE - 1))
            fails.check(a["payload_bytes"] == sent["samples"] * RATE * PAYLOAD,
                        "upload payload %d, want %d" % (a["payload_bytes"],
                                                        sent["samples"] * RATE * PAYLOAD))
            fails.check(s.get("samples") == sent["samples"] and
                        abs(s.get("payload_stddev_bytes", 0) - want_sd) <= 1,
                        "upload sampling %r, want %d samples and stddev %.0f" %
                        (s, sent["samples"], want_sd))
            print("upload alert: %d bytes +/- %s (%s%%), %s samples, state %s" %
                  (a["payload_bytes"], s.get("payload_stddev_bytes"), s.get("payload_error_pct"),
                   s.get("samples"), a["state"]))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        wbtest.remove_dir(work)
    fails.finish()


if __name__ == "__main__":
    main()
