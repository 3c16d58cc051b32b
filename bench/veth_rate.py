#!/usr/bin/python3
"""veth_rate: the highest rate on a veth at which `weighbridge run` drops nothing, against the
rate `tcpdump -w /dev/null` sustains on the same veth in the same run.

Set-up: two network namespaces joined by a veth pair without addresses (IPv6 off, offloads off),
so the only frames on it are the ones tcpreplay sends. A synthetic capture of UDP frames of one
size over 1024 flows (10.0.0.0/16 <-> 198.51.100.0/24) is replayed with `tcpreplay --pps R`
(`--loop` sized for about --seconds per step), then at --topspeed. At each rate the sensor and
tcpdump take turns on the same capture, same snaplen (128) and same kernel buffer (64 MiB), each
on its own interleaved step, so machine noise hits both alike.

A step is lossless for the sensor when its /health `packets` grew by exactly what tcpreplay
sent and `dropped` did not grow; for tcpdump when "packets captured" equals what was sent and
"dropped by kernel" is 0. The rate of a step is what tcpreplay reports it achieved (pps, and
Gbit/s from the frame bytes it sent), not what was asked.

Prints one line per step, then for each frame size the highest lossless rate of each tool and
their ratio. tcpreplay tops out at a few hundred kpps here (ENVIRONMENT.md), so when both tools
are lossless at --topspeed the figure is the sender's limit, and the script says so.

usage (root): bench/veth_rate.py --binary build/weighbridge [--sizes 64,1514] [--seconds 2]
              [--rates 50000,100000,...] [--json-out FILE]
"""

import argparse
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import daemon_lib as d  # noqa: E402

FLOWS = 1024
DISTINCT = 16384  # frames in the generated capture; tcpreplay --loop repeats it


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def make_capture(path, frame_len):
    """DISTINCT UDP/IPv4 frames of frame_len bytes (Ethernet header included), FLOWS flows."""
    records = []
    payload_len = frame_len - 14 - 20 - 8
    if payload_len < 0:
        raise ValueError("frame too short for Ethernet/IPv4/UDP")
    for i in range(DISTINCT):
        f = i % FLOWS
        src = bytes([10, 0, f >> 8, f & 0xFF])
        dst = bytes([198, 51, 100, 1 + f % 250])
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + payload_len, i & 0xFFFF, 0, 64, 17, 0,
                         src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        udp = struct.pack("!HHHH", 20000 + f, 9000, 8 + payload_len, 0)
        eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
        frame = eth + ip + udp + bytes(payload_len)
        records.append((1, i * 1000, len(frame), len(frame), frame))
    d.wbtest.write_pcap(path, 1, records)


def tcpreplay(topo, path, pps, loops, timeout):
    cmd = ["tcpreplay", "-i", topo.out_if, "-K", "--loop", str(loops)]
    cmd += ["--topspeed"] if pps is None else ["--pps", str(pps)]
    p = d.sh(topo.ns_cmd(topo.out, *cmd + [path]), timeout=timeout, check=False)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    sent = re.search(r"Successful packets:\s+(\d+)", text)
    actual = re.search(r"Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds", text)
    if not sent or not actual:
        raise RuntimeError("tcpreplay output not understood: %s" % text[-500:])
    n, nbytes, secs = int(actual.group(1)), int(actual.group(2)), float(actual.group(3))
    return int(sent.group(1)), n / secs if secs else 0.0, nbytes * 8 / secs / 1e9 if secs else 0.0


def settle(daemon, timeout=5.0):
    """/health once `packets` and `dropped` have stopped moving (bounded)."""
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, h = daemon.health()
        cur = (h or {}).get("packets"), (h or {}).get("dropped")
        if cur == last and h is not None:
            return h
        last = cur
        time.sleep(0.3)
    return h


def sensor_step(topo, daemon, path, pps, loops, timeout):
    h0 = settle(daemon)
    sent, rate_pps, rate_gbps = tcpreplay(topo, path, pps, loops, timeout)
    h1 = settle(daemon)
    read = h1["packets"] - h0["packets"]
    dropped = h1["dropped"] - h0["dropped"]
    return {"tool": "weighbridge", "sent": sent, "read": read, "dropped": dropped,
            "pps": rate_pps, "gbps": rate_gbps, "lossless": read == sent and dropped == 0}


def tcpdump_step(topo, path, pps, loops, timeout, workdir):
    err_path = os.path.join(workdir, "tcpdump.err")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(topo.ns_cmd(topo.dc, "tcpdump", "-i", topo.dc_if, "-w",
                                            "/dev/null", "-s", "128", "-B", "65536", "-n"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def text():
        with open(err_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    try:
        # tcpdump says "listening on" once its capture is open; bounded wait.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "listening on" not in text():
            if proc.poll() is not None:
                raise RuntimeError("tcpdump exited: %s" % text()[-300:])
            time.sleep(0.05)
        sent, rate_pps, rate_gbps = tcpreplay(topo, path, pps, loops, timeout)
        # tcpdump's libpcap hands over a partly filled ring block only after its 1 s timeout.
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = text()
    captured = re.search(r"(\d+) packets? captured", text)
    dropped = re.search(r"(\d+) packets? dropped by kernel", text)
    if not captured or not dropped:
        raise RuntimeError("tcpdump statistics not understood: %s" % text[-300:])
    c, k = int(captured.group(1)), int(dropped.group(1))
    return {"tool": "tcpdump", "sent": sent, "read": c, "dropped": k, "pps": rate_pps,
            "gbps": rate_gbps, "lossless": c == sent and k == 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--sizes", default="64,1514", help="frame sizes in bytes, with Ethernet")
    ap.add_argument("--rates", default="50000,100000,200000,300000,400000,600000",
                    help="tcpreplay --pps steps; a --topspeed step always follows")
    ap.add_argument("--seconds", type=float, default=2.0, help="about this long per step")
    ap.add_argument("--repeat", type=int, default=2,
                    help="steps per rate and tool; a rate is lossless only if every one was")
    ap.add_argument("--workers", type=int, default=2, help="pipeline.workers of the sensor")
    ap.add_argument("--flow-capacity", type=int, default=1000000,
                    help="pipeline.flow_capacity of the sensor (the default config's value)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="measure the first traffic after start-up like any other step")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    d.wbtest.require_binary(args.binary)
    d.require_root_tools("tcpreplay", "tcpdump", "ethtool", "curl")
    sizes = [int(x) for x in args.sizes.split(",")]
    rates = [int(x) for x in args.rates.split(",")] + [None]

    work = d.wbtest.temp_dir("wb-veth-rate-")
    results = []
    try:
        with d.Topology("b", addresses=False) as topo:
            cfg = "\n".join([
                "site: {inside: [10.0.0.0/8]}",
                "capture:",
                "  - {type: pcap, interface: %s, snaplen: 128, buffer: 64MiB}" % topo.dc_if,
                "pipeline: {workers: %d, flow_capacity: %d}" % (args.workers,
                                                                 args.flow_capacity),
                "detect: {weight_transfer: {catalog: %s}}" % json.dumps(d.CATALOG),
                "metrics: {health_listen: 127.0.0.1:9478}",
                "daemon: {log_format: json}"]) + "\n"
            for size in sizes:
                path = os.path.join(work, "udp-%d.pcap" % size)
                make_capture(path, size)
                daemon = d.Daemon(args.binary, topo.dc, work, cfg, name="bench-%d" % size)
                daemon.start()
                try:
                    if not args.no_warmup:
                        # The first traffic after start-up is measured apart: the sensor drops
                        # at its shard rings then even at low rates (see the report), and that
                        # one-time cost should not decide the steady-state rate.
                        w = sensor_step(topo, daemon, path, 20000, 1, 60)
                        w.update({"frame_bytes": size, "asked_pps": "warmup-20000"})
                        results.append(w)
                        print("%5d B  warm-up 20000 pps: sent %d read %d dropped %d" % (
                            size, w["sent"], w["read"], w["dropped"]), flush=True)
                    for pps in rates:
                        # The top-speed step is sized for ~400 kpps (ENVIRONMENT.md).
                        want = pps if pps is not None else 400000
                        loops = max(1, round(want * args.seconds / DISTINCT))
                        timeout = 60 + 4 * args.seconds
                        steps = []
                        for _ in range(args.repeat):
                            steps.append(sensor_step(topo, daemon, path, pps, loops, timeout))
                            steps.append(tcpdump_step(topo, path, pps, loops, timeout, work))
                        for step in steps:
                            step.update({"frame_bytes": size,
                                         "asked_pps": pps if pps is not None else "topspeed"})
                            results.append(step)
                            print("%5d B  asked %-9s  %-11s  %8.0f pps  %6.3f Gbit/s  sent %8d  "
                                  "read %8d  dropped %7d  %s" % (
                                      size, step["asked_pps"], step["tool"], step["pps"],
                                      step["gbps"], step["sent"], step["read"], step["dropped"],
                                      "lossless" if step["lossless"] else "LOSS"), flush=True)
                finally:
                    daemon.stop(timeout=30)
                    daemon.close()
    finally:
        d.wbtest.remove_dir(work)

    print()
    summary = []
    for size in sizes:
        line = {"frame_bytes": size}
        for tool in ("weighbridge", "tcpdump"):
            steps = [r for r in results if r["frame_bytes"] == size and r["tool"] == tool
                     and not str(r["asked_pps"]).startswith("warmup")]
            # Group the repeats of one asked rate; its achieved rate is the lowest of them.
            by_rate = []
            for asked in rates:
                key = asked if asked is not None else "topspeed"
                group = [r for r in steps if r["asked_pps"] == key]
                if group:
                    by_rate.append({"asked": key, "pps": min(r["pps"] for r in group),
                                    "gbps": min(r["gbps"] for r in group),
                                    "lossless": all(r["lossless"] for r in group),
                                    "dropped": sum(r["dropped"] + r["sent"] - min(r["read"],
                                                                                 r["sent"])
                                                   for r in group)})
            by_rate.sort(key=lambda g: g["pps"])
            # Sustained: lossless at this rate and at every lower one.
            sustained = None
            for g in by_rate:
                if not g["lossless"]:
                    break
                sustained = g
            best = max((g for g in by_rate if g["lossless"]), key=lambda g: g["pps"],
                       default=None)
            line[tool] = {"sustained": sustained, "best": best,
                          "lossy": [g for g in by_rate if not g["lossless"]]}
            fmt = lambda g: ("%.0f pps = %.3f Mpps, %.3f Gbit/s" % (g["pps"], g["pps"] / 1e6,
                                                                    g["gbps"]) if g else "none")
            print("%5d B  %-11s  lossless at every rate up to: %s" % (size, tool, fmt(sustained)))
            print("%5d B  %-11s  highest lossless rate:        %s" % (size, tool, fmt(best)))
            for g in line[tool]["lossy"]:
                print("%5d B  %-11s  lost packets at %.0f pps (%s): %d over %d runs" % (
                    size, tool, g["pps"], g["asked"], g["dropped"], args.repeat))
        for which in ("sustained", "best"):
            a, b = line["weighbridge"][which], line["tcpdump"][which]
            if a and b:
                line["ratio_" + which] = {"pps": a["pps"] / b["pps"], "gbps": a["gbps"] / b["gbps"]}
                print("%5d B  weighbridge / tcpdump (%s): %.2f (pps), %.2f (Gbit/s)"
                      % (size, which, a["pps"] / b["pps"], a["gbps"] / b["gbps"]))
        tops = [g for tool in ("weighbridge", "tcpdump") for g in [line[tool]["best"]]
                if g and g["asked"] == "topspeed"]
        if len(tops) == 2:
            line["sender_bound"] = True
            print("%5d B  both lossless at tcpreplay --topspeed: the highest figure is the "
                  "sender's limit, not the capture's" % size)
        summary.append(line)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"steps": results, "summary": summary}, fh, indent=1)


if __name__ == "__main__":
    main()
