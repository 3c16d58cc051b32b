#!/usr/bin/python3
"""tshark_flows: every capture in shared/pcaps through `weighbridge replay`, compared with tshark.

For each file in MANIFEST.tsv: per-flow packets and L3 bytes in both directions, the flow set,
each flow's orientation (a = sender of the first packet) and first/last timestamps, and the
summary totals (frames, wire_bytes, ip/ipv4/ipv6 packets, bytes, flows, decode outcomes) must
equal what tshark's decode gives under the rules of ARCHITECTURE.md (see tshark_truth.py and
docs/testing.md). Deliberate exceptions are listed per file in EXCEPTIONS, with the reason.

usage: tshark_flows.py --binary PATH --pcaps DIR [--only FILE ...] [--verbose]
"""

import argparse
import calendar
import concurrent.futures
import datetime
import os
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tshark_truth  # noqa: E402
import wbtest  # noqa: E402

# Link types the decoder handles (include/weighbridge/capture/decode.h).
SUPPORTED_LINK_TYPES = {0, 1, 9, 101, 108, 113, 228, 229, 276}

# Files where tshark on the original file is not the ground truth, and why. Each is printed.
#   truth: "records"  -> no tshark at all: frames and wire bytes from the records as libpcap reads
#                        them (wbtest.read_capture), and no IP packet (the link type is one the
#                        decoder does not handle).
#          "rewrite"  -> tshark on a clean pcap holding exactly the records libpcap reads before
#                        the read error, so both sides decode the same frames.
#   input_error: the summary's input_error must be a string (reading stopped early).
EXCEPTIONS = {
    "tcpdump_kday6.pcap": {
        "truth": "records",
        "input_error": False,
        "reason": "tshark 4.0 cannot read LINKTYPE 182 (MFR) at all ('network type 182 unknown "
                  "or unsupported'); truth: 1 record of 262144 wire bytes, link type not "
                  "decoded -> unsupported_link_type, no IP packet",
    },
    "suricata_bug-6875-01_fuzz.pcap": {
        "truth": "rewrite",
        "input_error": True,
        "reason": "a damaged file: libpcap reads 1 record and then fails on a record header "
                  "claiming 1409179648 bytes; tshark's wiretap instead guesses a different pcap "
                  "variant from the damage and reads 2 different records. Truth: tshark on the "
                  "record libpcap reads; input_error must be set",
    },
}


def parse_time_us(s):
    # "2026-01-01T00:00:00.000000Z" -> microseconds since the epoch
    if not isinstance(s, str) or not s.endswith("Z"):
        raise ValueError("not an RFC 3339 UTC time: %r" % (s,))
    base, _, frac = s[:-1].partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    us = int((frac + "000000")[:6]) if frac else 0
    return calendar.timegm(dt.timetuple()) * 1_000_000 + us


def fmt_us(us):
    return datetime.datetime.utcfromtimestamp(us // 1_000_000).strftime(
        "%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1_000_000)


def truth_for(path, name, workdir):
    """Returns (Truth, notes list, libpcap CaptureRead)."""
    exc = EXCEPTIONS.get(name)
    cap = wbtest.read_capture(path)
    notes = []
    if exc and exc["truth"] == "records":
        tr = tshark_truth.Truth()
        tr.frames = len(cap.records)
        tr.wire_bytes = sum(r[3] for r in cap.records)
        tr.non_ip = tr.frames
        return tr, notes, cap
    target = path
    if exc and exc["truth"] == "rewrite":
        target = os.path.join(workdir, name + ".libpcap-records.pcap")
        wbtest.write_pcap(target, cap.link_type, cap.records)
    rows, err, rc = tshark_truth.run_tshark(target)
    if rc != 0:
        notes.append("tshark exit %d: %s" % (rc, err.strip().replace("\n", " ")[:300]))
    tr = tshark_truth.compute(rows)
    # Sanity of the truth itself: tshark and the libpcap-like reader see the same records.
    if cap.error is None and tr.frames != len(cap.records):
        notes.append("tshark read %d frames, the pcap reader %d" % (tr.frames, len(cap.records)))
    return tr, notes, cap


def compare(name, path, binary, workdir, verbose):
    """Returns (table row, list of failure messages, list of info lines)."""
    fails = []
    info = []
    exc = EXCEPTIONS.get(name)
    if exc:
        info.append("exception for %s: %s" % (name, exc["reason"]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(truth_for, path, name, workdir)
        rc, flows, summary, stderr, _ = wbtest.replay(binary, path, workdir, timeout=240)
        tr, notes, cap = fut.result()
    for n in notes:
        fails.append("%s: truth: %s" % (name, n))
    if tr.sctp_packets and not tshark_truth.SCTP_PORTS:
        info.append("deliberate difference in %s: %d SCTP packets are expected with ports 0 "
                    "(the decoder accounts SCTP without ports; tshark_truth.SCTP_PORTS)" % (
                        name, tr.sctp_packets))

    row = {"file": name, "frames": tr.frames, "flows": tr.flow_count(), "packets": tr.ip_packets,
           "bytes": tr.bytes, "wb_flows": None, "wb_packets": None, "wb_bytes": None}

    def fail(msg):
        fails.append("%s: %s" % (name, msg))

    # replay --help: exit 0 when the whole capture was read, 1 when reading stopped early.
    want_rc = 1 if exc and exc["input_error"] else 0
    if rc != want_rc:
        fail("replay exited %d, want %d: %s" % (rc, want_rc, stderr.strip()[:500]))
    if flows is None or summary is None:
        fail("replay gave no %s (exit %d): %s" % (
            "flows" if flows is None else "summary", rc, stderr.strip()[:500]))
        row["match"] = "FAIL"
        return row, fails, info

    # ---- summary totals
    missing = [k for k in wbtest.SUMMARY_KEYS if k not in summary]
    if missing:
        fail("summary lacks %s" % missing)
    row["wb_packets"] = summary.get("ip_packets")
    row["wb_bytes"] = summary.get("bytes")
    row["wb_flows"] = len(flows)
    for key, want in (("frames", tr.frames), ("wire_bytes", tr.wire_bytes),
                      ("ip_packets", tr.ip_packets), ("ipv4_packets", tr.ipv4_packets),
                      ("ipv6_packets", tr.ipv6_packets), ("bytes", tr.bytes),
                      ("flows", tr.flow_count())):
        if summary.get(key) != want:
            fail("summary %s = %r, truth %r" % (key, summary.get(key), want))
    want_err = bool(exc and exc["input_error"])
    got_err = summary.get("input_error")
    if want_err and not isinstance(got_err, str):
        fail("input_error should say why reading stopped early, got %r" % (got_err,))
    if not want_err and got_err is not None:
        fail("input_error should be null, got %r" % (got_err,))
    errs = summary.get("decode_errors")
    if isinstance(errs, dict):
        # Every frame has exactly one outcome: accounted, or one reason.
        total = sum(v for v in errs.values() if isinstance(v, int))
        if total != tr.frames - tr.ip_packets:
            fail("decode_errors sum to %d, truth %d frames - %d accounted = %d (%s)" % (
                total, tr.frames, tr.ip_packets, tr.frames - tr.ip_packets,
                {k: v for k, v in errs.items() if v}))
        link = cap.link_type if cap.error is None or exc else None
        if link is not None and link not in SUPPORTED_LINK_TYPES and link != 50:
            if errs.get("unsupported_link_type") != tr.frames:
                fail("decode_errors.unsupported_link_type = %r, truth %d (link type %d)" % (
                    errs.get("unsupported_link_type"), tr.frames, link))
        elif link in SUPPORTED_LINK_TYPES:
            if errs.get("non_ip") != tr.non_ip:
                fail("decode_errors.non_ip = %r, truth %d frames without IP" % (
                    errs.get("non_ip"), tr.non_ip))
        # LINKTYPE_PPP_HDLC (50) is not in the contract's list; the one such frame here carries
        # no IP, so it may be reported either as non_ip or as unsupported_link_type.
        if link == 50 and (errs.get("non_ip", 0) + errs.get("unsupported_link_type", 0)
                           != tr.frames):
            fail("PPP_HDLC frames should be non_ip or unsupported_link_type: %s" % errs)
    else:
        fail("decode_errors is not an object: %r" % (errs,))

    # ---- flows
    # Flows keyed by (flow key, n): the n-th flow of that key in order of first packet.
    got_lists = {}
    for f in flows:
        miss = wbtest.FLOW_KEYS - set(f)
        if miss:
            fail("flow lacks keys %s: %s" % (sorted(miss), f))
            continue
        try:
            f = dict(f, a=tshark_truth.norm_addr(f["a"]), b=tshark_truth.norm_addr(f["b"]))
            k = wbtest.flow_key(f)
        except (ValueError, TypeError) as e:
            fail("flow with bad fields (%s): %s" % (e, f))
            continue
        got_lists.setdefault(k, []).append(f)
    got = {}
    for k, lst in got_lists.items():
        try:
            lst.sort(key=lambda f: parse_time_us(f["first"]))
        except ValueError as e:
            fail(str(e))
        for n, f in enumerate(lst):
            got[(k, n)] = f
    want = {(k, n): f for k, lst in tr.flows.items() for n, f in enumerate(lst)}
    only_truth = sorted(set(want) - set(got), key=str)
    only_wb = sorted(set(got) - set(want), key=str)
    for k in only_truth[:10]:
        w = want[k]
        fail("flow missing from weighbridge: %s %s:%s -> %s:%s vlan %s (%d+%d pkts)" % (
            w["proto"], w["a"], w["a_port"], w["b"], w["b_port"], w["vlan"],
            w["a_to_b_packets"], w["b_to_a_packets"]))
    for k in only_wb[:10]:
        g = got[k]
        fail("flow not in truth: %s %s:%s -> %s:%s vlan %s (%s+%s pkts)" % (
            g["proto"], g["a"], g["a_port"], g["b"], g["b_port"], g["vlan"],
            g["a_to_b_packets"], g["b_to_a_packets"]))
    if len(only_truth) > 10 or len(only_wb) > 10:
        fail("%d flows missing, %d extra in all" % (len(only_truth), len(only_wb)))
    bad = 0
    for k in sorted(set(want) & set(got), key=str):
        w, g = want[k], got[k]
        diffs = []
        if (g["a"], g["a_port"]) != (w["a"], w["a_port"]):
            diffs.append("a is %s:%s, truth %s:%s" % (g["a"], g["a_port"], w["a"], w["a_port"]))
            # Orientation differs: compare the counters swapped so that one report shows both.
            g = dict(g, a_to_b_bytes=g["b_to_a_bytes"], b_to_a_bytes=g["a_to_b_bytes"],
                     a_to_b_packets=g["b_to_a_packets"], b_to_a_packets=g["a_to_b_packets"])
        for field in ("a_to_b_packets", "b_to_a_packets", "a_to_b_bytes", "b_to_a_bytes"):
            if g[field] != w[field]:
                diffs.append("%s %s, truth %s" % (field, g[field], w[field]))
        try:
            first, last = parse_time_us(g["first"]), parse_time_us(g["last"])
            if first != w["first_us"]:
                diffs.append("first %s, truth %s" % (g["first"], fmt_us(w["first_us"])))
            if last != w["last_us"]:
                diffs.append("last %s, truth %s" % (g["last"], fmt_us(w["last_us"])))
        except ValueError as e:
            diffs.append(str(e))
        if diffs:
            bad += 1
            if bad <= 10:
                fail("flow %s %s:%s <-> %s:%s vlan %s: %s" % (
                    w["proto"], w["a"], w["a_port"], w["b"], w["b_port"], w["vlan"],
                    "; ".join(diffs)))
    if bad > 10:
        fail("%d flows differ in all" % bad)
    if verbose:
        info.append("%s: truth not accounted %s, unmatched fragments %d; weighbridge "
                    "decode_errors %s" % (name, tr.not_accounted, tr.fragments_unmatched,
                                          {k: v for k, v in (errs or {}).items() if v}))
    row["match"] = "ok" if not fails else "FAIL"
    return row, fails, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--pcaps", required=True)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    wbtest.require_binary(args.binary)
    manifest = os.path.join(args.pcaps, "MANIFEST.tsv")
    if not os.path.isfile(manifest):
        wbtest.skip("no capture set: %s does not exist" % manifest)
    if shutil.which("tshark") is None:
        wbtest.skip("tshark is not installed")
    if not wbtest.replay_supported(args.binary):
        wbtest.skip("`weighbridge replay --help` does not offer --flows-out (replay not built yet)")

    with open(manifest, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    header = lines[0].split("\t")
    files = [dict(zip(header, ln.split("\t")))["file"] for ln in lines[1:] if ln.strip()]
    if args.only:
        files = [f for f in files if f in args.only]
    absent = [f for f in files if not os.path.isfile(os.path.join(args.pcaps, f))]
    if absent:
        wbtest.skip("captures listed in MANIFEST.tsv are missing: %s" % absent)

    workdir = wbtest.temp_dir("wb-tshark-flows-")
    failures = wbtest.Failures()
    rows = []
    try:
        # Files in parallel (tshark and the replay of one file also overlap): bounded pool.
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futs = {pool.submit(compare, f, os.path.join(args.pcaps, f), args.binary, workdir,
                                args.verbose): f for f in files}
            results = {}
            for fut in concurrent.futures.as_completed(futs):
                f = futs[fut]
                try:
                    results[f] = fut.result()
                except Exception as e:  # pylint: disable=broad-except
                    results[f] = ({"file": f, "match": "ERROR"}, ["%s: %r" % (f, e)], [])
        for f in files:
            row, fails, info = results[f]
            rows.append(row)
            for line in info:
                print(line)
            for msg in fails:
                failures.fail(msg)
    finally:
        wbtest.remove_dir(workdir)

    print("\n%-40s %7s %11s %13s %17s  %s" % ("file", "frames", "flows t/wb", "packets t/wb",
                                             "bytes t/wb", "match"))
    for r in rows:
        print("%-40s %7s %11s %13s %17s  %s" % (
            r["file"], r.get("frames", "-"),
            "%s/%s" % (r.get("flows", "-"), r.get("wb_flows", "-")),
            "%s/%s" % (r.get("packets", "-"), r.get("wb_packets", "-")),
            "%s/%s" % (r.get("bytes", "-"), r.get("wb_bytes", "-")), r["match"]))
    failures.finish()


if __name__ == "__main__":
    main()
