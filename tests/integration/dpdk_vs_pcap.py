#!/usr/bin/python3
"""dpdk_vs_pcap: `replay --via dpdk` (DPDK's net_pcap virtual device reading the file) must give
the same flows-out, byte for byte, as `replay` through libpcap, for the Ethernet captures of
shared/pcaps and a synthetic capture. The libpcap path is itself checked against tshark and the
generator's truth by tshark_flows and synth_truth, so this closes the loop for the DPDK path.

The summary's frames, ip_packets and bytes must match too. Deliberate difference: net_pcap
hands DPDK only the captured bytes of each record, so on that path the original length of a
snaplen-cut frame is lost (the frame looks as long as what was captured, and its IP length then
exceeds it). Captures with any cut record are therefore replayed and their differences printed,
but not held to equality, and wire_bytes is never compared (docs/testing.md). A real NIC has no
snaplen, so this concerns the test vehicle only.

Needs root (DPDK EAL, even with --no-huge) and a binary whose replay --help offers --via dpdk.

usage: dpdk_vs_pcap.py --binary PATH [--pcaps DIR]
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

# Captures net_pcap cannot stand for libpcap on: they are not read to the end by libpcap.
NOT_COMPARED = {
    "suricata_bug-6875-01_fuzz.pcap": "damaged file: the two readers stop at different points",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--pcaps", default="")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if os.geteuid() != 0:
        wbtest.skip("needs root for the DPDK EAL")
    help_replay = wbtest.help_text(args.binary, "replay")
    if "--flows-out" not in help_replay:
        wbtest.skip("`weighbridge replay --help` does not offer --flows-out (replay not built yet)")
    if "--via" not in help_replay or "dpdk" not in help_replay:
        wbtest.skip("`weighbridge replay --help` does not offer --via dpdk")

    failures = wbtest.Failures()
    workdir = wbtest.temp_dir("wb-dpdk-vs-pcap-")
    inputs = []
    try:
        synth = os.path.join(workdir, "edge-mix.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "edge-mix", "--out", synth,
                        "--truth", "none", "--seed", "3"], timeout=120)
        if p.returncode == 0:
            inputs.append(synth)
        else:
            failures.fail("synth edge-mix exited %d: %s" % (p.returncode,
                                                           p.stderr.decode()[:300]))
        manifest = os.path.join(args.pcaps, "MANIFEST.tsv") if args.pcaps else ""
        if manifest and os.path.isfile(manifest):
            with open(manifest, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
            header = lines[0].split("\t")
            for ln in lines[1:]:
                row = dict(zip(header, ln.split("\t")))
                if row.get("link_type") != "ether":
                    continue
                if row["file"] in NOT_COMPARED:
                    print("not compared: %s (%s)" % (row["file"], NOT_COMPARED[row["file"]]))
                    continue
                path = os.path.join(args.pcaps, row["file"])
                # net_pcap opens files with libpcap as well, so pcapng works; keep to files
                # libpcap reads to the end.
                if os.path.isfile(path):
                    inputs.append(path)
        else:
            print("note: no shared captures; comparing the synthetic capture only")

        print("%-40s %8s %8s %10s  %s" % ("file", "frames", "flows", "bytes", "match"))
        cut_files = []
        for path in inputs:
            name = os.path.basename(path)
            cap = wbtest.read_capture(path)
            if cap.error is not None:
                print("not compared: %s (libpcap stops early: %s)" % (name, cap.error))
                continue
            cut = sum(1 for r in cap.records if r[2] < r[3])
            if cut:
                # Deliberate difference (see the module doc): replay both ways and print.
                cut_files.append((path, cut, len(cap.records)))
                continue
            rc_p, fl_p, su_p, err_p, out_p = wbtest.replay(args.binary, path, workdir)
            rc_d, fl_d, su_d, err_d, out_d = wbtest.replay(args.binary, path, workdir,
                                                           extra=["--via", "dpdk"])
            ok = failures.check(rc_p == 0, "%s: libpcap replay exited %d: %s" % (
                name, rc_p, err_p.strip()[:300]))
            ok = failures.check(rc_d == 0, "%s: --via dpdk exited %d: %s" % (
                name, rc_d, err_d.strip()[:300])) and ok
            if ok:
                same = out_p == out_d
                if not same:
                    only_p = set(out_p.splitlines()) - set(out_d.splitlines())
                    only_d = set(out_d.splitlines()) - set(out_p.splitlines())
                    failures.fail("%s: flows-out differs: %d lines only via libpcap, %d only via "
                                  "dpdk; e.g. %r / %r" % (
                                      name, len(only_p), len(only_d),
                                      sorted(only_p)[:1], sorted(only_d)[:1]))
                    ok = False
                for k in ("frames", "ip_packets", "ipv4_packets", "ipv6_packets", "bytes",
                          "flows"):
                    ok = failures.check((su_p or {}).get(k) == (su_d or {}).get(k),
                                        "%s: summary %s libpcap %r, dpdk %r" % (
                                            name, k, (su_p or {}).get(k),
                                            (su_d or {}).get(k))) and ok
            print("%-40s %8s %8s %10s  %s" % (name, (su_p or {}).get("frames"), len(fl_p or []),
                                              (su_p or {}).get("bytes"), "ok" if ok else "FAIL"))
        for path, cut, total in cut_files:
            _, _, su_p, _, out_p = wbtest.replay(args.binary, path, workdir)
            _, _, su_d, _, out_d = wbtest.replay(args.binary, path, workdir,
                                                 extra=["--via", "dpdk"])
            print("not held to equality: %s (%d of %d records cut by snaplen; net_pcap loses "
                  "their wire length): ip_packets libpcap %r, dpdk %r; flows-out %s" % (
                      os.path.basename(path), cut, total, (su_p or {}).get("ip_packets"),
                      (su_d or {}).get("ip_packets"), "same" if out_p == out_d else "differs"))
    finally:
        wbtest.remove_dir(workdir)
    failures.finish()


if __name__ == "__main__":
    main()
