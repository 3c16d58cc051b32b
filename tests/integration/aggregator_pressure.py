#!/usr/bin/python3
"""aggregator_pressure: a flood of one-packet flows must not cost a bulk upload a single byte, and
transfers and alerts must not depend on the number of workers.

1. `flood-weights` (300 000 one-packet flows around an 8-stream upload of a 16 GB file) is
   replayed with a flow table far too small for the flood (pipeline.flow_capacity 16384): the
   table must evict (flow_evictions > 0), and the upload's flows must still come out exactly as
   the generator's truth says: packets, L3 bytes and unique payload bytes each way, as one flow
   each — 16,060,000,000 payload bytes in all.
2. `bulk-upload` at twice its size is replayed with --workers 1, 2 and 4: --transfers-out and
   --alerts-out must be byte-identical, and the upload must raise exactly one weight_transfer
   alert whose final version carries the truth's payload total.

usage: aggregator_pressure.py --binary PATH
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

SEED = 7
SITE = "site:\n  inside: [10.0.0.0/8, 2001:db8:100::/48]\n"


def synth(binary, scenario, out, extra=()):
    p = wbtest.run([binary, "synth", "--scenario", scenario, "--seed", str(SEED), "--out", out,
                    *extra], timeout=300)
    if p.returncode != 0:
        raise RuntimeError("synth %s failed: %s" % (scenario, p.stderr.decode()[-500:]))
    return wbtest.load_jsonl(out + ".truth.jsonl")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    failures = wbtest.Failures()
    work = wbtest.temp_dir("wb-pressure-")
    try:
        # 1. Flood against a small table.
        cap = os.path.join(work, "flood.pcap")
        truth = synth(args.binary, "flood-weights", cap, ["--snaplen", "96"])
        cfg = os.path.join(work, "small.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(SITE + "pipeline: {workers: 2, flow_capacity: 16384}\n")
        rc, flows, summary, err, _ = wbtest.replay(args.binary, cap, work,
                                                   ["--config", cfg, "--no-progress"],
                                                   timeout=300)
        failures.check(rc == 0, "flood replay exit %d: %s" % (rc, err[-500:]))
        if summary is not None:
            failures.check(summary.get("flow_evictions", 0) > 0,
                           "a 16384-flow table took 300k flows without evicting: %r"
                           % summary.get("flow_evictions"))
            want_bytes = sum(f["a_to_b_bytes"] + f["b_to_a_bytes"] for f in truth)
            failures.check(summary["bytes"] == want_bytes,
                           "bytes %d, truth %d" % (summary["bytes"], want_bytes))
        bulk = [f for f in truth if f["a_to_b_payload_bytes"] + f["b_to_a_payload_bytes"] > 1_000_000]
        failures.check(len(bulk) >= 2, "the scenario has %d bulk flows" % len(bulk))
        by_key = {}
        for f in flows or []:
            by_key.setdefault(wbtest.flow_key(f), []).append(f)
        fields = ("a_to_b_packets", "b_to_a_packets", "a_to_b_bytes", "b_to_a_bytes",
                  "a_to_b_payload_bytes", "b_to_a_payload_bytes", "first", "last")
        for t in bulk:
            got = by_key.get(wbtest.flow_key(t), [])
            if not failures.check(len(got) == 1, "bulk flow %s:%d came out as %d flows"
                                  % (t["a"], t["a_port"], len(got))):
                continue
            for k in fields:
                failures.check(got[0][k] == t[k], "bulk flow %s:%d %s = %r, truth %r"
                               % (t["a"], t["a_port"], k, got[0][k], t[k]))
        bulk_payload = sum(t["a_to_b_payload_bytes"] + t["b_to_a_payload_bytes"] for t in bulk)
        got_payload = sum(g["a_to_b_payload_bytes"] + g["b_to_a_payload_bytes"]
                          for t in bulk for g in by_key.get(wbtest.flow_key(t), []))
        failures.check(got_payload == bulk_payload,
                       "upload payload %d, truth %d" % (got_payload, bulk_payload))
        print("flood: %d truth flows, %d bulk flows carrying %d payload bytes (replay: %d), "
              "evictions %s" % (len(truth), len(bulk), bulk_payload, got_payload,
                                summary and summary.get("flow_evictions")))

        # 2. Transfers and alerts with 1, 2 and 4 workers.
        cap = os.path.join(work, "bulk.pcap")
        truth = synth(args.binary, "bulk-upload", cap, ["--snaplen", "96", "--scale", "2"])
        cfg = os.path.join(work, "site.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(SITE)
        outputs = {}
        for workers in (1, 2, 4):
            t_out = os.path.join(work, "t%d.jsonl" % workers)
            a_out = os.path.join(work, "a%d.jsonl" % workers)
            p = wbtest.run([args.binary, "replay", cap, "--config", cfg, "--no-progress",
                            "--workers", str(workers), "--transfers-out", t_out,
                            "--alerts-out", a_out], timeout=300)
            failures.check(p.returncode == 0, "bulk replay --workers %d exit %d: %s"
                           % (workers, p.returncode, p.stderr.decode()[-500:]))
            if not (os.path.exists(t_out) and os.path.exists(a_out)):
                failures.fail("replay --workers %d wrote no transfers/alerts" % workers)
                failures.finish()
            with open(t_out, "rb") as a, open(a_out, "rb") as b:
                outputs[workers] = (a.read(), b.read())
        for w in (2, 4):
            failures.check(outputs[w][0] == outputs[1][0],
                           "--transfers-out differs between 1 and %d workers" % w)
            failures.check(outputs[w][1] == outputs[1][1],
                           "--alerts-out differs between 1 and %d workers" % w)
        alerts = [json.loads(line) for line in outputs[1][1].decode().splitlines() if line]
        weight = [a for a in alerts if a["kind"] == "weight_transfer"]
        ids = {a["id"] for a in weight}
        failures.check(len(ids) == 1, "weight_transfer alert ids: %r" % sorted(ids))
        upload = [f for f in truth if f["a_to_b_payload_bytes"] > 1_000_000]
        want = sum(f["a_to_b_payload_bytes"] for f in upload)
        if weight:
            last = weight[-1]
            failures.check(last["state"] == "ended", "last version is %r" % last["state"])
            failures.check(last["payload_bytes"] == want,
                           "alert payload %d, truth %d" % (last["payload_bytes"], want))
            failures.check(last["flows"] == len(upload),
                           "alert flows %d, truth %d" % (last["flows"], len(upload)))
            failures.check(weight[0]["state"] == "active",
                           "the first version should be raised while the upload runs")
        print("bulk: %d alert versions, upload %d bytes over %d flows"
              % (len(weight), want, len(upload)))
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
