#!/usr/bin/python3
"""synth_truth: generator scenarios through `weighbridge replay`, compared with the generator's truth.

For every scenario that `weighbridge synth --list` names (except the multi-gigabyte ones), write
the capture with a fixed seed, replay it, and require the flows-out lines to equal the truth
file exactly: the same flow set and, per flow, every field (orientation, packets, L3 bytes,
payload bytes, first, last). The truth comes from the generator's own arithmetic, not from the
decoder. The summary totals must equal the truth's sums, and the flows-out must be byte-identical
with --workers 1 and --workers 4.

usage: synth_truth.py --binary PATH [--only SCENARIO ...]
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

SEED = 20260101

# Too big for a test run (tens of GB of traffic); covered by the benchmarks instead.
EXCLUDED = {
    "weights-16g": "16 GB of payload, ~11M frames: benchmark material, minutes to generate",
    "bench-10m": "10,000,000 frames: benchmark material",
    "flood-weights": "16 GB of payload, ~11.4M frames: aggregator_pressure replays it",
    "demo": "edge-mix (checked here) plus a 2.46 GB upload: weighbridge demo runs it",
}

# Per-scenario generator options. The large ones are written header-only (--snaplen), which is
# also what a snaplen-limited sensor sees: L3 and payload bytes must still come out whole, since
# both are taken from the headers. --scale shrinks bulk volume to keep the test within its time
# budget; the truth is computed by the generator for the scaled scenario, so nothing is lost
# for the comparison.
OPTIONS = {
    "tiny": [],
    "edge-mix": [],
    "bulk-upload": ["--snaplen", "96"],
    "ingest": ["--snaplen", "96"],
    "flood-upload": ["--snaplen", "96"],
}
DEFAULT_OPTIONS = ["--snaplen", "128"]

# Scenarios whose flows-out is also replayed with --workers 1 and 4 and compared byte for byte.
DETERMINISM = ("tiny", "edge-mix", "flood-upload")


def list_scenarios(binary):
    p = wbtest.run([binary, "synth", "--list"], timeout=30)
    if p.returncode != 0:
        return None
    names = []
    for line in p.stdout.decode().splitlines():
        if line.strip():
            names.append(line.split()[0])
    return names


def canon(f):
    return {k: f[k] for k in sorted(f)}


def compare_flows(failures, scenario, truth, got):
    ok = True
    for f in truth:
        extra = set(f) - wbtest.FLOW_KEYS
        missing = wbtest.FLOW_KEYS - set(f)
        if extra or missing:
            ok = failures.check(False, "%s: truth line keys differ from the flows-out keys: "
                                "extra %s missing %s" % (scenario, sorted(extra), sorted(missing)))
    for f in got:
        extra = set(f) - wbtest.FLOW_KEYS
        missing = wbtest.FLOW_KEYS - set(f)
        if missing:
            ok = failures.check(False, "%s: flows-out line lacks %s: %s" % (
                scenario, sorted(missing), f))
            return False
        if extra:
            print("note: %s: flows-out has keys beyond the contract: %s" % (scenario,
                                                                           sorted(extra)))
    want = {}
    for f in truth:
        k = wbtest.flow_key(f)
        failures.check(k not in want, "%s: truth lists flow %s twice" % (scenario, k))
        want[k] = f
    have = {}
    for f in got:
        k = wbtest.flow_key(f)
        ok = failures.check(k not in have, "%s: flows-out lists flow %s twice" % (scenario, k)) \
            and ok
        have[k] = f
    only_t = sorted(set(want) - set(have), key=str)
    only_g = sorted(set(have) - set(want), key=str)
    for k in only_t[:8]:
        failures.fail("%s: flow in truth, not in flows-out: %s" % (scenario, canon(want[k])))
    for k in only_g[:8]:
        failures.fail("%s: flow in flows-out, not in truth: %s" % (scenario, canon(have[k])))
    if only_t or only_g:
        ok = False
        failures.fail("%s: %d truth flows missing, %d extra (of %d truth flows)" % (
            scenario, len(only_t), len(only_g), len(want)))
    bad = 0
    for k in sorted(set(want) & set(have), key=str):
        w, g = want[k], have[k]
        diffs = ["%s %r, truth %r" % (key, g.get(key), w[key]) for key in sorted(w)
                 if g.get(key) != w[key]]
        if diffs:
            bad += 1
            if bad <= 8:
                failures.fail("%s: flow %s:%s <-> %s:%s proto %s vlan %s: %s" % (
                    scenario, w["a"], w["a_port"], w["b"], w["b_port"], w["proto"], w["vlan"],
                    "; ".join(diffs)))
    if bad:
        ok = False
        failures.fail("%s: %d of %d flows differ" % (scenario, bad, len(want)))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if not wbtest.replay_supported(args.binary):
        wbtest.skip("`weighbridge replay --help` does not offer --flows-out (replay not built yet)")
    scenarios = list_scenarios(args.binary)
    if not scenarios:
        wbtest.skip("`weighbridge synth --list` names no scenario (generator not built yet)")
    workers_ok = "--workers" in wbtest.help_text(args.binary, "replay")

    failures = wbtest.Failures()
    for name, why in EXCLUDED.items():
        if name in scenarios:
            print("not run: %s (%s)" % (name, why))
    run_list = [s for s in scenarios if s not in EXCLUDED]
    if args.only:
        run_list = [s for s in run_list if s in args.only]
    for required in ("tiny", "edge-mix", "bulk-upload", "flood-upload", "ingest"):
        failures.check(required in scenarios,
                       "synth --list does not offer the scenario %r" % required)

    table = []
    workdir = wbtest.temp_dir("wb-synth-truth-")
    try:
        for scenario in run_list:
            pcap = os.path.join(workdir, scenario + ".pcap")
            truth_path = pcap + ".truth.jsonl"
            opts = OPTIONS.get(scenario, DEFAULT_OPTIONS)
            t0 = time.monotonic()
            p = wbtest.run([args.binary, "synth", "--scenario", scenario, "--out", pcap,
                            "--truth", truth_path, "--seed", str(SEED), *opts], timeout=240)
            t_gen = time.monotonic() - t0
            if not failures.check(p.returncode == 0 and os.path.isfile(truth_path),
                                  "%s: synth exited %d: %s" % (
                                      scenario, p.returncode,
                                      p.stderr.decode("utf-8", "replace").strip()[:400])):
                continue
            with open(truth_path, encoding="utf-8") as fh:
                truth = wbtest.parse_flows(fh.read(), truth_path)
            t0 = time.monotonic()
            extra = ["--workers", "2"] if workers_ok else []
            rc, flows, summary, stderr, out1 = wbtest.replay(args.binary, pcap, workdir,
                                                             extra=extra, timeout=240)
            t_replay = time.monotonic() - t0
            if not failures.check(rc == 0 and flows is not None and summary is not None,
                                  "%s: replay exited %d: %s" % (scenario, rc, stderr.strip()[:400])):
                continue
            ok = compare_flows(failures, scenario, truth, flows)
            # Summary totals: the truth's sums, and the records as written in the file.
            pk = sum(f["a_to_b_packets"] + f["b_to_a_packets"] for f in truth)
            by = sum(f["a_to_b_bytes"] + f["b_to_a_bytes"] for f in truth)
            cap = wbtest.read_capture(pcap)
            failures.check(cap.error is None, "%s: the generated capture does not parse: %s" % (
                scenario, cap.error))
            for key, want in (("ip_packets", pk), ("bytes", by), ("flows", len(truth)),
                              ("frames", len(cap.records)),
                              ("wire_bytes", sum(r[3] for r in cap.records))):
                ok = failures.check(summary.get(key) == want, "%s: summary %s = %r, truth %r" % (
                    scenario, key, summary.get(key), want)) and ok
            ok = failures.check(summary.get("input_error") is None,
                                "%s: input_error %r" % (scenario, summary.get("input_error"))) \
                and ok
            det = "-"
            if workers_ok and scenario in DETERMINISM:
                outs = {}
                for w in (1, 4):
                    rc_w, _, _, err_w, out_w = wbtest.replay(
                        args.binary, pcap, workdir, extra=["--workers", str(w)], timeout=240)
                    failures.check(rc_w == 0, "%s: replay --workers %d exited %d: %s" % (
                        scenario, w, rc_w, err_w.strip()[:300]))
                    outs[w] = out_w
                same = outs[1] == outs[4] and outs[1] == out1
                det = "same" if same else "DIFFER"
                ok = failures.check(same, "%s: flows-out differs between --workers 1, 2 and 4 "
                                    "(%d, %d, %d bytes)" % (scenario, len(outs[1]), len(out1),
                                                           len(outs[4]))) and ok
            table.append((scenario, len(truth), pk, by, t_gen, t_replay, det,
                          "ok" if ok else "FAIL"))
            os.unlink(pcap)
    finally:
        wbtest.remove_dir(workdir)

    if not workers_ok:
        print("note: replay --help does not offer --workers; determinism not checked")
    print("\n%-16s %8s %9s %13s %6s %7s %9s  %s" % ("scenario", "flows", "packets", "bytes",
                                                  "gen s", "rep s", "workers", "match"))
    for row in table:
        print("%-16s %8d %9d %13d %6.1f %7.1f %9s  %s" % row)
    failures.finish()


if __name__ == "__main__":
    main()
