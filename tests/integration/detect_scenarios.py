#!/usr/bin/python3
"""detect_scenarios: the four detectors on generated traffic, scored against an oracle.

For every scenario below, `weighbridge synth` writes the capture and its truth; the capture is
replayed with `--alerts-out` under each of the case's configs, and score_alerts.py computes the
alerts each config should raise from the truth alone (docs/detectors.md's rules, the catalog in
config/models.yaml), then prints a table of detected / missed / false alerts. Every case must
have all expected alerts detected and no false (unexpected) ones. Thresholds are scaled down in
the configs where a scenario is small; each config is written from the same numbers the oracle
uses (score_alerts.render_config).

Cases, and what the oracle must say about them (checked too, so that a trap is really a trap):
- weights-16g: 16,060,000,000 bytes over 8 streams (8B parameters in bf16) -> one
  weight_transfer, raised while the upload runs, matching Llama-3.1-8B bf16 within 1%.
- flood-upload: a 1,000,000,000-byte upload among 300,000 one-packet flows, min_size set to
  exactly that (the rule is >=) -> fires.
- bulk-upload x1.073: 1,073,000,000 bytes, 741,824 bytes under min_size (1 GiB) -> silent.
- bulk-upload x2 (2 GB): to an allow-listed partner -> silent; the same capture with the peer
  marked sensitive and no allow rule -> fires, critical (the trap's control).
- ingest (2 GB downloaded from 192.0.2.0/24), ingest threshold 1 GB an hour -> one
  dataset_ingest and no weight_transfer (a large inbound download is not egress).
- edge-mix, staging 5 MB an hour into 10.20.0.0/24 -> one staging_ingest for the 10 MB copy.
- train-and-return, ingest 1 GB an hour -> dataset_ingest, weight_transfer, train_and_return
  linking both; with `within` 1 day (the upload comes 3 days later) -> no train_and_return.
- slow-upload-gap: two 600 MiB halves 15 minutes apart. gap 10 minutes -> two transfers, each
  under min_size: silent (the documented limit of a gap-based transfer). gap 20 minutes -> one
  1200 MiB transfer: fires.
- v6-vlan-upload: 1.5 GB over IPv6 on VLAN 30 -> fires, grouped by the peer's /48.
- tunnel-vxlan, min_size 40 MB: the 50 MB upload inside VXLAN fires on the inner addresses,
  nothing for the tunnel endpoints.
A self-check feeds the scorer a doctored alert list (one alert removed, one added, one payload
changed by 10%) and requires it to report exactly those as missed and false.

usage: detect_scenarios.py --binary PATH [--only SCENARIO,...]
"""

import argparse
import copy
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import score_alerts  # noqa: E402
import wbtest  # noqa: E402
from score_alerts import DAY, HOUR, Params  # noqa: E402

MB = 10**6
GB = 10**9


def _p(**kw):
    return Params(**kw)


SENSITIVE = _p(sensitive_prefixes=["203.0.113.0/24"])
ALLOWED = _p(allow=[("partner", ["203.0.113.0/24"], ["outbound"])])
INGEST_1GB = _p(ingest_windows=[(HOUR, GB)])

# (scenario, scale, snaplen, [(label, params, want)]); want: {kind: count} the oracle must
# expect (so a trap is silent by the rules and a firing case fires by them).
CASES = [
    ("weights-16g", 1, 80, [("default", _p(), {"weight_transfer": 1})]),
    # min_size exactly the upload's payload: the rule is >=, so it fires.
    ("flood-upload", 1, 80, [("min_size 1000000000B", _p(min_size=GB),
                              {"weight_transfer": 1})]),
    ("bulk-upload", 1.073, 80, [("just under min_size", _p(), {})]),
    ("bulk-upload", 2, 80, [("allow-listed partner", ALLOWED, {}),
                            ("sensitive, no allow rule", SENSITIVE, {"weight_transfer": 1})]),
    ("ingest", 1, 80, [("ingest 1GB/1h", INGEST_1GB, {"dataset_ingest": 1})]),
    ("edge-mix", 1, 128, [("staging 5MB/1h", _p(staging_window_s=HOUR, staging_threshold=5 * MB,
                                                 staging_storage=["10.20.0.0/24"]),
                           {"staging_ingest": 1})]),
    ("train-and-return", 1, 80, [
        ("ingest 1GB/1h", INGEST_1GB,
         {"dataset_ingest": 1, "weight_transfer": 1, "train_and_return": 1}),
        ("within 1d", _p(ingest_windows=[(HOUR, GB)], within_s=DAY),
         {"dataset_ingest": 1, "weight_transfer": 1})]),
    ("slow-upload-gap", 1, 80, [("gap 10m", _p(), {}),
                                ("gap 20m", _p(gap_s=1200), {"weight_transfer": 1})]),
    ("v6-vlan-upload", 1, 80, [("default", _p(), {"weight_transfer": 1})]),
    ("tunnel-vxlan", 1, 160, [("min_size 40MB", _p(min_size=40 * MB), {"weight_transfer": 1})]),
]


def run_case(binary, work, catalog, scenario, scale, snaplen, configs, failures, tables):
    cap = os.path.join(work, "%s-%s.pcap" % (scenario, scale))
    truth_path = cap + ".truth.jsonl"
    t0 = time.monotonic()
    p = wbtest.run([binary, "synth", "--scenario", scenario, "--scale", str(scale), "--snaplen",
                    str(snaplen), "--out", cap, "--truth", truth_path], timeout=300)
    if not failures.check(p.returncode == 0, "synth %s: %s"
                          % (scenario, p.stderr.decode()[-300:])):
        return {}
    truth = wbtest.load_jsonl(truth_path)
    out = {}
    try:
        for label, params, want in configs:
            name = "%s x%s [%s]" % (scenario, scale, label)
            cfg = os.path.join(work, "config.yaml")
            with open(cfg, "w", encoding="utf-8") as fh:
                fh.write(score_alerts.render_config(params))
            alerts_path = os.path.join(work, "alerts.jsonl")
            if os.path.exists(alerts_path):
                os.unlink(alerts_path)
            t1 = time.monotonic()
            p = wbtest.run([binary, "replay", cap, "--config", cfg, "--no-progress",
                            "--alerts-out", alerts_path], timeout=300)
            replay_s = time.monotonic() - t1
            failures.check(p.returncode == 0, "%s: replay exit %d %s"
                           % (name, p.returncode, p.stderr.decode()[-300:]))
            alerts = wbtest.load_jsonl(alerts_path) if os.path.exists(alerts_path) else []
            expected, notes = score_alerts.expected_alerts(truth, params, catalog)
            result = score_alerts.score(expected, alerts)
            table = score_alerts.format_table(name, result)
            table += "\n  (replay %.1f s)" % replay_s
            for n in notes:
                table += "\n  note: " + n
            print(table, flush=True)
            tables.append(table)
            got_kinds = {}
            for e in expected:
                got_kinds[e["kind"]] = got_kinds.get(e["kind"], 0) + 1
            failures.check(got_kinds == want, "%s: the oracle expects %r, the case is meant to "
                           "have %r" % (name, got_kinds, want))
            failures.check(not notes, "%s: the config is near an edge: %r" % (name, notes))
            failures.check(not result["missed"], "%s: %d expected alert(s) missed"
                           % (name, len(result["missed"])))
            failures.check(not result["false"], "%s: %d false alert(s): %r" % (
                name, len(result["false"]), [(a["kind"], a.get("inside"), a.get("external"),
                                              a.get("payload_bytes")) for a in result["false"]]))
            failures.check(not result["mismatch"], "%s: %r" % (name, result["mismatch"]))
            # Every packet of these captures was counted: every alert says its bytes are exact.
            sampled = [a["id"] for a in alerts if a.get("sampling", "missing") is not None]
            failures.check(not sampled, "%s: alerts without \"sampling\": null from unsampled "
                           "input: %r" % (name, sampled[:3]))
            # Every id's versions are 1, 2, 3... in file order.
            seen = {}
            for a in alerts:
                seen.setdefault(a["id"], []).append(a["version"])
            for aid, vs in seen.items():
                failures.check(vs == list(range(1, len(vs) + 1)),
                               "%s: alert %s versions %r" % (name, aid, vs))
            out[label] = (alerts, expected, result)
    finally:
        os.unlink(cap)  # gigabytes: do not keep them for the next case
    print("  (%s: %.1f s with synth)" % (scenario, time.monotonic() - t0), flush=True)
    return out


def check_weights_16g(res, failures):
    alerts, expected, _ = res["default"]
    w = [a for a in alerts if a["kind"] == "weight_transfer"]
    e = [x for x in expected if x["kind"] == "weight_transfer"]
    # Published facts, not our output: 8.03B parameters x 2 bytes, 8 streams (docs/synth.md).
    failures.check(len(e) == 1 and e[0]["payload_bytes"] == 16_060_000_000
                   and e[0]["model"] == "Llama-3.1-8B" and e[0]["dtype"] == "bf16/fp16"
                   and abs(e[0]["error_pct"]) < 1.0, "weights-16g oracle: %r" % e)
    if not w:
        return
    failures.check(w[0]["state"] == "active", "weights-16g: first version %r, want it raised "
                   "while the upload runs" % w[0]["state"])
    last = w[-1]
    m = last.get("model_match") or {}
    failures.check(last["state"] == "ended" and last["flows"] == 8
                   and m.get("dtype") == "bf16/fp16" and abs(m.get("error_pct", 100)) < 1.0,
                   "weights-16g final version %r" % last)


def check_train_and_return(res, failures):
    alerts, _, result = res["ingest 1GB/1h"]
    latest = score_alerts.latest_versions(alerts)
    tar = [a for a in latest if a["kind"] == "train_and_return"]
    ids = {k: [a["id"] for a in latest if a["kind"] == k]
           for k in ("dataset_ingest", "weight_transfer")}
    if failures.check(len(tar) == 1, "train-and-return: %d correlated alerts" % len(tar)):
        linked = tar[0].get("linked_ids", [])
        failures.check(sorted(linked) == sorted(ids["dataset_ingest"] + ids["weight_transfer"]),
                       "train_and_return links %r, ingest %r, weight %r"
                       % (linked, ids["dataset_ingest"], ids["weight_transfer"]))
    return latest, result


def self_check(expected, actual_lines, failures):
    """The scorer must be able to fail: doctor a list the scorer accepted."""
    base = score_alerts.score(expected, actual_lines)
    if not failures.check(len(base["detected"]) >= 2 and not base["missed"]
                          and not base["false"], "self-check needs a fully detected case"):
        return
    latest = score_alerts.latest_versions(actual_lines)
    removed = latest[0]
    doctored = [copy.deepcopy(a) for a in actual_lines if a["id"] != removed["id"]]
    fake = copy.deepcopy(latest[-1])
    fake.update(id="00000000deadbeef", version=1, kind="weight_transfer", inside="10.99.0.1",
                external="198.18.0.0/24", payload_bytes=5 * GB, model_match=None)
    doctored.append(fake)
    r = score_alerts.score(expected, doctored)
    print(score_alerts.format_table("self-check (one removed, one added)", r), flush=True)
    failures.check(len(r["missed"]) == 1 and len(r["false"]) == 1
                   and len(r["detected"]) == len(base["detected"]) - 1
                   and r["missed"][0]["kind"] == removed["kind"]
                   and r["false"][0]["id"] == fake["id"],
                   "self-check: %d missed, %d false, %d detected"
                   % (len(r["missed"]), len(r["false"]), len(r["detected"])))
    # A payload 10% off the truth is not a detection of that alert.
    grown = [copy.deepcopy(a) for a in actual_lines]
    target = latest[-1]["id"]
    for a in grown:
        if a["id"] == target:
            a["payload_bytes"] = int(a["payload_bytes"] * 1.1)
    r = score_alerts.score(expected, grown)
    failures.check(len(r["missed"]) == 1 and len(r["false"]) == 1,
                   "self-check (payload +10%%): %d missed, %d false"
                   % (len(r["missed"]), len(r["false"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    failures = wbtest.Failures()
    catalog = score_alerts.load_catalog()
    work = wbtest.temp_dir("wb-detect-")
    free = shutil.disk_usage(work).free
    if free < 3 << 30:  # weights-16g is 1.6 GB header-only, written once
        wbtest.remove_dir(work)
        wbtest.skip("only %.1f GiB free in %s; the 16 GB scenario needs 3" % (free / 2**30, work))
    only = set(filter(None, args.only.split(",")))
    tables = []
    t0 = time.monotonic()
    try:
        for scenario, scale, snaplen, configs in CASES:
            if only and scenario not in only:
                continue
            res = run_case(args.binary, work, catalog, scenario, scale, snaplen, configs,
                           failures, tables)
            if scenario == "weights-16g" and res:
                check_weights_16g(res, failures)
            if scenario == "train-and-return" and res:
                check_train_and_return(res, failures)
                alerts, expected, _ = res["ingest 1GB/1h"]
                self_check(expected, alerts, failures)
    finally:
        wbtest.remove_dir(work)
    print("\n== summary (%.1f s) ==" % (time.monotonic() - t0))
    for t in tables:
        print(t.splitlines()[0])
    failures.finish()


if __name__ == "__main__":
    main()
