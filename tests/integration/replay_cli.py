#!/usr/bin/python3
"""replay_cli: the `weighbridge replay` command-line contract (ARCHITECTURE.md, replay --help).

- CAPTURE "-" (standard input) gives the same flows-out, byte for byte, as the file path
  (classic pcap and pcapng).
- --flows-out - writes to standard output exactly what --flows-out FILE writes to a file.
- A capture that cannot be opened (missing, not a capture, cut inside the file header) exits 2
  with a message naming the file.
- A capture cut in the middle of a record (inside the data, inside a record header) exits 1,
  input_error says why, and every record before the cut is accounted: frames, packets and L3
  bytes equal the sums over those records, parsed here from the bytes.
- The summary has every key of the contract and every decode reason of decode.h, zeros included.
- by_direction: without --config everything is transit; with site.inside, each packet lands in
  inbound/outbound/internal/transit as its addresses say (truth: the generator's flows).

usage: replay_cli.py --binary PATH --source-dir DIR [--pcaps DIR]
"""

import argparse
import ipaddress
import os
import re
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

SEED = 7
INSIDE = ["10.0.0.0/8", "2001:db8:100::/48"]


def reason_names(source_dir):
    """The decode reasons named in decode.h (the stable interface), in enum order."""
    path = os.path.join(source_dir, "include", "weighbridge", "capture", "decode.h")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    body = text[text.index("enum class DecodeResult"):]
    body = body[:body.index("kCount")]
    return re.findall(r'^\s*k\w+,\s*//\s*"([a-z0-9_]+)"', body, re.M)


def l3_length(link_type, data):
    """L3 bytes of one Ethernet frame's IP packet from its header, or None when not IP."""
    if link_type != 1 or len(data) < 14:
        return None
    off, et = 12, struct.unpack(">H", data[12:14])[0]
    hops = 0
    while et in (0x8100, 0x88A8) and hops < 4 and len(data) >= off + 6:
        off += 4
        et = struct.unpack(">H", data[off:off + 2])[0]
        hops += 1
    off += 2
    if et == 0x0800 and len(data) >= off + 4:
        return struct.unpack(">H", data[off + 2:off + 4])[0]
    if et == 0x86DD and len(data) >= off + 6:
        return struct.unpack(">H", data[off + 4:off + 6])[0] + 40
    return None


def make_synth(binary, workdir, scenario="tiny"):
    pcap = os.path.join(workdir, scenario + ".pcap")
    truth = pcap + ".truth.jsonl"
    p = wbtest.run([binary, "synth", "--scenario", scenario, "--out", pcap, "--truth", truth,
                    "--seed", str(SEED)], timeout=120)
    if p.returncode != 0 or not os.path.isfile(pcap):
        return None, None
    return pcap, truth


def direction(src, dst, nets):
    def inside(a):
        ip = ipaddress.ip_address(a)
        return any(ip in n for n in nets if n.version == ip.version)
    s, d = inside(src), inside(dst)
    if s and d:
        return "internal"
    if s:
        return "outbound"
    if d:
        return "inbound"
    return "transit"


def pick(by_direction):
    """by_direction reduced to the contract's packets and bytes per direction."""
    return {d: {k: v.get(k) for k in ("packets", "bytes")}
            for d, v in by_direction.items() if isinstance(v, dict)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--pcaps", default="")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if not wbtest.replay_supported(args.binary):
        wbtest.skip("`weighbridge replay --help` does not offer --flows-out (replay not built yet)")

    failures = wbtest.Failures()
    check = failures.check
    workdir = wbtest.temp_dir("wb-replay-cli-")
    try:
        pcap, truth_path = make_synth(args.binary, workdir)
        if pcap is None:
            wbtest.skip("`weighbridge synth --scenario tiny` does not work yet")
        with open(truth_path, encoding="utf-8") as fh:
            truth = wbtest.parse_flows(fh.read(), truth_path)

        # ---- 1. stdin == file path, byte for byte
        inputs = [pcap]
        for name in ("pcpp_example.pcap", "zeek_irc-dcc-send.pcapng"):
            path = os.path.join(args.pcaps, name) if args.pcaps else ""
            if path and os.path.isfile(path):
                inputs.append(path)
            else:
                print("note: %s not available, stdin checked on the synth capture only" % name)
        for path in inputs:
            rc_f, flows_f, sum_f, err_f, out_f = wbtest.replay(args.binary, path, workdir)
            with open(path, "rb") as fh:
                rc_s, flows_s, sum_s, err_s, out_s = wbtest.replay(args.binary, "-", workdir,
                                                                   stdin_file=fh)
            name = os.path.basename(path)
            check(rc_f == 0, "%s: replay FILE exited %d: %s" % (name, rc_f, err_f.strip()[:300]))
            check(rc_s == 0, "%s: replay - exited %d: %s" % (name, rc_s, err_s.strip()[:300]))
            check(len(out_f) > 0, "%s: replay FILE --flows-out - wrote nothing" % name)
            check(out_f == out_s, "%s: flows-out from stdin (%d bytes, %s flows) differs from the "
                  "file path's (%d bytes, %s flows)" % (
                      name, len(out_s), len(flows_s or []), len(out_f), len(flows_f or [])))
            if sum_f and sum_s:
                for k in ("frames", "ip_packets", "bytes", "wire_bytes", "flows"):
                    check(sum_f.get(k) == sum_s.get(k), "%s: summary %s from stdin %r, file %r" % (
                        name, k, sum_s.get(k), sum_f.get(k)))
            print("stdin vs path: %s: %d bytes of flows-out, %s" % (
                name, len(out_f), "same" if out_f == out_s else "DIFFERENT"))

        # ---- 2. --flows-out - (stdout) == --flows-out FILE
        flows_file = os.path.join(workdir, "flows.jsonl")
        p = wbtest.run([args.binary, "replay", pcap, "--flows-out", flows_file], timeout=120)
        check(p.returncode == 0, "replay --flows-out FILE exited %d" % p.returncode)
        _, _, _, _, out_stdout = wbtest.replay(args.binary, pcap, workdir)
        if os.path.isfile(flows_file):
            with open(flows_file, "rb") as fh:
                check(fh.read() == out_stdout, "--flows-out FILE and --flows-out - differ")
        else:
            failures.fail("--flows-out FILE did not create %s" % flows_file)
        check(len(wbtest.parse_flows(out_stdout.decode(), "stdout")) == len(truth),
              "--flows-out - gave %d flows, truth %d" % (
                  len(wbtest.parse_flows(out_stdout.decode(), "stdout")), len(truth)))

        # ---- 3. captures that cannot be opened: exit 2, message names the file
        missing = os.path.join(workdir, "no-such-capture.pcap")
        notcap = os.path.join(workdir, "not-a-capture.pcap")
        with open(notcap, "w", encoding="utf-8") as fh:
            fh.write("this is not a capture file\n" * 10)
        cut_header = os.path.join(workdir, "cut-in-file-header.pcap")
        with open(pcap, "rb") as fh:
            blob = fh.read()
        with open(cut_header, "wb") as fh:
            fh.write(blob[:10])
        empty = os.path.join(workdir, "empty.pcap")
        open(empty, "wb").close()
        for path in (missing, notcap, cut_header, empty):
            p = wbtest.run([args.binary, "replay", path, "--flows-out", os.devnull], timeout=60)
            err = p.stderr.decode("utf-8", "replace")
            check(p.returncode == 2, "replay %s exited %d, want 2 (stderr: %s)" % (
                os.path.basename(path), p.returncode, err.strip()[:200]))
            check(path in err or os.path.basename(path) in err,
                  "replay %s: the error message does not name the file: %r" % (
                      os.path.basename(path), err.strip()[:300]))
            print("unreadable %s: exit %d, %r" % (os.path.basename(path), p.returncode,
                                                 err.strip()[:160]))
        p = wbtest.run([args.binary, "replay"], timeout=30)
        check(p.returncode == 2, "replay without CAPTURE exited %d, want 2" % p.returncode)
        p = wbtest.run([args.binary, "replay", pcap, "--no-such-option"], timeout=30)
        check(p.returncode == 2, "replay with an unknown option exited %d, want 2" % p.returncode)

        # ---- 4. truncated captures: exit 1, input_error, records before the cut accounted
        cap = wbtest.read_capture(pcap)
        check(cap.error is None and len(cap.records) >= 8,
              "synth tiny capture: %d records, %s" % (len(cap.records), cap.error))
        if cap.error is None and len(cap.records) >= 8:
            # Record offsets in the file (classic pcap: 24-byte header, 16-byte record headers).
            offsets, off = [], 24
            for r in cap.records:
                offsets.append(off)
                off += 16 + r[2]
            k = len(cap.records) // 2
            cuts = {"inside record data": offsets[k] + 16 + max(1, cap.records[k][2] // 2),
                    "inside a record header": offsets[k] + 7}
            for what, cut in cuts.items():
                path = os.path.join(workdir, "cut.pcap")
                with open(path, "wb") as fh:
                    fh.write(blob[:cut])
                rc, flows, summary, err, _ = wbtest.replay(args.binary, path, workdir)
                print("truncated %s (after %d of %d records): exit %d, input_error %r" % (
                    what, k, len(cap.records), rc, (summary or {}).get("input_error")))
                check(rc == 1, "truncated %s: exit %d, want 1 (replay --help: reading stopped "
                      "early)" % (what, rc))
                if not check(summary is not None, "truncated %s: no summary written" % what):
                    continue
                check(isinstance(summary.get("input_error"), str) and summary["input_error"],
                      "truncated %s: input_error %r, want a reason" % (what,
                                                                      summary.get("input_error")))
                before = cap.records[:k]
                l3 = [l3_length(r[0], r[4]) for r in before]
                want_pk = sum(1 for x in l3 if x is not None)
                want_by = sum(x for x in l3 if x is not None)
                for key, want in (("frames", k), ("ip_packets", want_pk), ("bytes", want_by),
                                  ("wire_bytes", sum(r[3] for r in before))):
                    check(summary.get(key) == want, "truncated %s: summary %s = %r, the %d "
                          "records before the cut hold %r" % (what, key, summary.get(key), k,
                                                              want))
                check(flows is not None and sum(
                    f["a_to_b_packets"] + f["b_to_a_packets"] for f in flows or []) == want_pk,
                    "truncated %s: flows-out is missing or does not hold the %d packets" % (
                        what, want_pk))

        # ---- 5. summary shape: every key, every decode reason with zeros
        _, _, summary, _, _ = wbtest.replay(args.binary, pcap, workdir)
        if check(summary is not None, "no summary for the synth capture"):
            for key in wbtest.SUMMARY_KEYS:
                check(key in summary, "summary lacks %r" % key)
            names = reason_names(args.source_dir)
            check(len(names) >= 20, "found only %d reasons in decode.h" % len(names))
            errs = summary.get("decode_errors") or {}
            absent = [n for n in names if n not in errs]
            check(not absent, "decode_errors lacks the reasons %s" % absent)
            check(all(isinstance(errs.get(n), int) for n in names),
                  "decode_errors values are not all integers: %s" % errs)
            check("ok" not in errs, "decode_errors lists 'ok', which is not an error")
            bd = summary.get("by_direction") or {}
            for d in ("inbound", "outbound", "internal", "transit"):
                check(isinstance(bd.get(d), dict) and {"packets", "bytes"} <= set(bd.get(d)),
                      "by_direction.%s missing or lacking packets/bytes: %r" % (d, bd.get(d)))
            # No config: site.inside is empty, every packet is transit.
            tp = sum(f["a_to_b_packets"] + f["b_to_a_packets"] for f in truth)
            tb = sum(f["a_to_b_bytes"] + f["b_to_a_bytes"] for f in truth)
            check(pick(bd).get("transit") == {"packets": tp, "bytes": tb},
                  "without --config by_direction.transit = %r, want all %d packets / %d bytes" % (
                      bd.get("transit"), tp, tb))

        # ---- 6. by_direction with site.inside, against the generator's flows
        cfg = os.path.join(workdir, "site.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write("site:\n  inside: [%s]\n" % ", ".join(INSIDE))
        rc, _, summary, err, _ = wbtest.replay(args.binary, pcap, workdir,
                                                extra=["--config", cfg])
        if check(rc == 0 and summary is not None, "replay --config %s exited %d: %s" % (
                cfg, rc, err.strip()[:300])):
            nets = [ipaddress.ip_network(n) for n in INSIDE]
            want = {d: {"packets": 0, "bytes": 0}
                    for d in ("inbound", "outbound", "internal", "transit")}
            for f in truth:
                ab = direction(f["a"], f["b"], nets)
                ba = direction(f["b"], f["a"], nets)
                want[ab]["packets"] += f["a_to_b_packets"]
                want[ab]["bytes"] += f["a_to_b_bytes"]
                want[ba]["packets"] += f["b_to_a_packets"]
                want[ba]["bytes"] += f["b_to_a_bytes"]
            got = pick(summary.get("by_direction") or {})
            check(got == want, "by_direction with site.inside %s = %r, truth %r" % (INSIDE, got,
                                                                                     want))
            print("by_direction with site.inside: %s" % got)

        # ---- 7. --speed paces by the capture's own timestamps and changes no result
        stamps = [r[1] for r in wbtest.read_capture(pcap).records]
        span_s = (max(stamps) - min(stamps)) / 1e9 if stamps else 0
        if "--speed" in wbtest.help_text(args.binary, "replay") and span_s > 0:
            speed = span_s / 1.5  # the whole capture should take about 1.5 s of wall time
            t0 = time.monotonic()
            rc_p, _, sum_p, err_p, out_p = wbtest.replay(args.binary, pcap, workdir,
                                                         extra=["--speed", "%.6f" % speed])
            elapsed = time.monotonic() - t0
            rc_m, _, sum_m, _, out_m = wbtest.replay(args.binary, pcap, workdir,
                                                     extra=["--speed", "max"])
            check(rc_p == 0 and rc_m == 0, "replay --speed exited %d / %d: %s" % (
                rc_p, rc_m, err_p.strip()[:300]))
            check(out_p == out_m, "flows-out differs between --speed %.3f and --speed max" % speed)
            # The last packet may go no sooner than span/speed = 1.5 s after the first.
            check(elapsed >= 1.45, "--speed %.3f over a %.3f s capture took only %.2f s" % (
                speed, span_s, elapsed))
            check(elapsed < 20, "--speed %.3f took %.1f s (expected about 1.5 s)" % (speed, elapsed))
            print("--speed %.3f: %.2f s for a capture spanning %.3f s" % (speed, elapsed, span_s))
            for bad in ("0", "-1", "fast", "1e400"):
                p = wbtest.run([args.binary, "replay", pcap, "--speed", bad])
                check(p.returncode == 2, "--speed %s exited %d, want 2" % (bad, p.returncode))
    finally:
        wbtest.remove_dir(workdir)
    failures.finish()


if __name__ == "__main__":
    main()
