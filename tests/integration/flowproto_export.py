#!/usr/bin/python3
"""flowproto_export: `export.ipfix` from `weighbridge replay` to Debian's nfcapd.

A synthetic capture (the generator's edge-mix: TCP, UDP, ICMP, IPv4 and IPv6) is replayed with
a config whose `export.ipfix` names an nfcapd on loopback. nfdump's reading of the file nfcapd
wrote must hold, per (source, destination, ports, protocol), exactly the packets and L3 bytes
that `--flows-out` reports for that direction of that flow: no record lost, none invented, none
double counted. Then a collector that is not there: the replay says how many messages it could
not send and exits 1 (the records are lost, and it says so).

usage: flowproto_export.py --binary PATH
"""

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

# nfdump prints well-known protocols by name.
PROTO_NAMES = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58, "GRE": 47, "ESP": 50, "SCTP": 132,
               "IPIP": 4, "IPv6": 41}


def write_config(path, port):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("site:\n  inside: [10.0.0.0/8, 2001:db8:100::/48]\n"
                 "export:\n  ipfix:\n    - {collector: \"127.0.0.1:%d\", observation_domain: 7}\n"
                 % port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    for tool in ("nfcapd", "nfdump"):
        if shutil.which(tool) is None:
            wbtest.skip("%s not installed (Debian package nfdump)" % tool)
    fails = wbtest.Failures()
    work = wbtest.temp_dir("wb-export-")
    nfcapd = None
    try:
        cap = os.path.join(work, "edge.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "edge-mix", "--out", cap,
                        "--snaplen", "128"], timeout=120)
        if p.returncode != 0:
            fails.fail("synth: %s" % p.stderr.decode()[-300:])
            fails.finish()
        port = wbtest.free_port(socket.SOCK_DGRAM)
        store = os.path.join(work, "nfcapd")
        os.makedirs(store)
        nfcapd = subprocess.Popen(["nfcapd", "-w", store, "-p", str(port), "-b", "127.0.0.1",
                                   "-B", str(16 << 20)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not fails.check(wbtest.wait_for(lambda: glob.glob(os.path.join(store,
                                                                           "nfcapd.current*")),
                                           10), "nfcapd did not start"):
            fails.finish()
        cfg = os.path.join(work, "export.yaml")
        write_config(cfg, port)
        rc, flows, summary, err, _ = wbtest.replay(args.binary, cap, work,
                                                   extra=["--config", cfg], timeout=120)
        fails.check(rc == 0, "replay with export exited %d: %s" % (rc, err[-300:]))
        time.sleep(0.5)
        nfcapd.send_signal(signal.SIGTERM)  # flushes and closes its file
        nfcapd.wait(timeout=30)
        nfcapd = None
        env = dict(os.environ, TZ="UTC")
        d = subprocess.run(["nfdump", "-q", "-R", store, "-o", "csv", "-6"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
        fails.check(d.returncode == 0, "nfdump: %s" % d.stderr.decode()[-300:])

        # nfdump 1.7 csv columns: ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,...
        got = {}
        rows = 0
        for line in d.stdout.decode().splitlines():
            f = line.split(",")
            if len(f) < 13 or f[0] == "ts":
                continue
            proto = PROTO_NAMES.get(f[7])
            if proto is None:
                proto = int(f[7]) if f[7].isdigit() else f[7]
            # ICMP "ports" are type.code in nfdump; weighbridge exports 0 for them.
            sp = int(float(f[5])) if f[5].replace(".", "").isdigit() else f[5]
            dp = int(float(f[6])) if f[6].replace(".", "").isdigit() else f[6]
            key = (f[3], f[4], sp, dp, proto)
            g = got.setdefault(key, [0, 0])
            g[0] += int(f[11])
            g[1] += int(f[12])
            rows += 1
        want = {}
        for fl in flows or []:
            for a, b, ap_, bp, pk, by in (
                    (fl["a"], fl["b"], fl["a_port"], fl["b_port"], fl["a_to_b_packets"],
                     fl["a_to_b_bytes"]),
                    (fl["b"], fl["a"], fl["b_port"], fl["a_port"], fl["b_to_a_packets"],
                     fl["b_to_a_bytes"])):
                if pk == 0:
                    continue
                w = want.setdefault((a, b, ap_, bp, fl["proto"]), [0, 0])
                w[0] += pk
                w[1] += by
        print("nfdump: %d records over %d keys; flows-out: %d flows, %d directions" %
              (rows, len(got), len(flows or []), len(want)), flush=True)
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        wrong = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]]
        fails.check(not missing, "%d directions not in nfdump, e.g. %r" % (len(missing),
                                                                          missing[:3]))
        fails.check(not extra, "%d nfdump keys not in flows-out, e.g. %r" % (len(extra),
                                                                            extra[:3]))
        fails.check(not wrong, "%d directions with other counts, e.g. %r" % (len(wrong),
                                                                            wrong[:3]))
        fails.check(sum(g[1] for g in got.values()) == (summary or {}).get("bytes"),
                    "nfdump bytes %d, summary bytes %r" % (sum(g[1] for g in got.values()),
                                                           (summary or {}).get("bytes")))

        # Nobody listening: the sends fail (ICMP port unreachable on a connected socket), the
        # replay says how many messages were lost and exits 1.
        write_config(cfg, wbtest.free_port(socket.SOCK_DGRAM))
        rc, _, _, err, _ = wbtest.replay(args.binary, cap, work, extra=["--config", cfg],
                                         timeout=120)
        fails.check(rc == 1 and "messages not sent" in err,
                    "export to no collector: exit %d, %r" % (rc, err[-300:]))
    finally:
        if nfcapd is not None:
            nfcapd.kill()
            nfcapd.wait()
        wbtest.remove_dir(work)
    fails.finish()


if __name__ == "__main__":
    main()
