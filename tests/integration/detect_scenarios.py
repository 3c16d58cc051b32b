#!/usr/bin/python3
"""detect_scenarios: the detectors on generated traffic, with the traps that must stay silent.
Expected values come from the generator's scenario definitions (docs/synth.md) and the published
model size, not from the detectors.

- weights-16g: 16,060,000,000 payload bytes over 8 parallel streams (an 8B-parameter model in
  bf16) -> exactly one weight_transfer alert, raised while the upload runs, ended with all 8
  streams and the exact payload, matching Llama-3.1-8B bf16 within 1%.
- flood-upload at scale 1.1: a 1.1 GB upload hidden among 300,000 one-packet flows -> fires.
- traps: bulk-upload at scale 1 (1e9 bytes, just under min_size 1 GiB); ingest (2 GB
  downloaded: inbound); bulk-upload at scale 2 to an allow-listed partner -> no weight_transfer
  alert. The allow-list trap is also run without the rule, where it must fire (a warning), so
  that the trap could fail; and once more with the destination marked sensitive (critical).
- v6-vlan-upload: the same detector on IPv6 over VLAN 30, grouped by the peer's /48.
- slow-upload-gap: two 600 MiB halves 15 minutes apart (gap 10 minutes) are two transfers, and
  neither alone reaches min_size: silent. (This is the documented limit of a gap-based transfer.)
- train-and-return (ingest threshold lowered to 1 GB an hour): a dataset_ingest alert for
  198.51.100.0/24, three days later a weight_transfer alert to the same /24, and one
  train_and_return alert linking both.
- edge-mix with staging at 5 MB an hour into 10.20.0.0/24: one staging_ingest alert for the
  10 MB copy by 10.30.3.5.

usage: detect_scenarios.py --binary PATH
"""

import argparse
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

SITE = "site:\n  inside: [10.0.0.0/8, 2001:db8:100::/48]\n"
ALLOW = ("detect:\n  allow:\n    - {name: partner, prefixes: [203.0.113.0/24], "
         "directions: [outbound]}\n")


def weight_alerts(binary, work, scenario, scale, config_text, failures):
    """Generates the scenario, replays it, returns (weight_transfer alert versions, truth)."""
    alerts, truth, _ = replay_alerts(binary, work, scenario, scale, config_text, failures)
    return [a for a in alerts if a["kind"] == "weight_transfer"], truth


def replay_alerts(binary, work, scenario, scale, config_text, failures):
    """Generates the scenario (header-only: 80 bytes hold Ethernet, VLAN, IPv6 and TCP) and
    replays it; returns (every alert version, truth flows, transfers)."""
    cap = os.path.join(work, "%s-%s.pcap" % (scenario, scale))
    truth_path = cap + ".truth.jsonl"
    p = wbtest.run([binary, "synth", "--scenario", scenario, "--scale", str(scale),
                    "--snaplen", "80", "--out", cap, "--truth", truth_path], timeout=300)
    if not failures.check(p.returncode == 0, "synth %s: %s" % (scenario, p.stderr.decode()[-300:])):
        return [], []
    cfg = os.path.join(work, "config.yaml")
    with open(cfg, "w", encoding="utf-8") as fh:
        fh.write(config_text)
    alerts_path = os.path.join(work, "alerts.jsonl")
    transfers_path = os.path.join(work, "transfers.jsonl")
    p = wbtest.run([binary, "replay", cap, "--config", cfg, "--no-progress", "--alerts-out",
                    alerts_path, "--transfers-out", transfers_path], timeout=300)
    os.unlink(cap)  # gigabytes: do not keep them for the next case
    failures.check(p.returncode == 0, "replay %s: exit %d %s"
                   % (scenario, p.returncode, p.stderr.decode()[-300:]))
    alerts = wbtest.load_jsonl(alerts_path) if os.path.exists(alerts_path) else []
    transfers = wbtest.load_jsonl(transfers_path) if os.path.exists(transfers_path) else []
    truth = wbtest.load_jsonl(truth_path)
    return alerts, truth, transfers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    failures = wbtest.Failures()
    work = wbtest.temp_dir("wb-detect-")
    free = shutil.disk_usage(work).free
    if free < 3 << 30:  # weights-16g is 1.3 GB header-only, written once
        wbtest.remove_dir(work)
        wbtest.skip("only %.1f GiB free in %s; the 16 GB scenario needs 3" % (free / 2**30, work))
    try:
        # An 8B-parameter model in bf16 over 8 streams.
        alerts, truth = weight_alerts(args.binary, work, "weights-16g", 1, SITE, failures)
        ids = {a["id"] for a in alerts}
        failures.check(len(ids) == 1, "weights-16g: %d weight_transfer alerts" % len(ids))
        upload = [f for f in truth if f["a_to_b_payload_bytes"] > 1_000_000_000]
        failures.check(len(upload) == 8, "weights-16g truth has %d big streams" % len(upload))
        if alerts:
            first, last = alerts[0], alerts[-1]
            failures.check(first["state"] == "active", "first version is %r, want it raised "
                           "while the upload runs" % first["state"])
            failures.check(last["state"] == "ended", "last version is %r" % last["state"])
            failures.check(last["payload_bytes"] == 16_060_000_000,
                           "payload %d, want 16060000000" % last["payload_bytes"])
            failures.check(last["flows"] == 8, "flows %d, want 8" % last["flows"])
            failures.check(last["direction"] == "outbound", "direction %r" % last["direction"])
            m = last.get("model_match") or {}
            failures.check(m.get("name") == "Llama-3.1-8B" and m.get("dtype") == "bf16/fp16"
                           and abs(m.get("error_pct", 100)) < 1.0,
                           "model_match %r, want Llama-3.1-8B bf16 within 1%%" % m)
            versions = [a["version"] for a in alerts]
            failures.check(versions == list(range(1, len(alerts) + 1)),
                           "versions %r are not 1, 2, 3..." % versions)
            print("weights-16g: %d versions, final %s %s error %.3f%%"
                  % (len(alerts), m.get("name"), m.get("dtype"), m.get("error_pct", 0)))

        # An upload hidden in a flood still fires.
        alerts, _ = weight_alerts(args.binary, work, "flood-upload", 1.1, SITE, failures)
        failures.check(len({a["id"] for a in alerts}) == 1,
                       "flood-upload x1.1: %d weight alerts, want 1" % len({a["id"] for a in alerts}))
        if alerts:
            failures.check(alerts[-1]["payload_bytes"] == 1_100_000_000,
                           "flood-upload payload %d" % alerts[-1]["payload_bytes"])

        # Traps.
        for scenario, scale, config, why in (
                ("bulk-upload", 1, SITE, "1e9 bytes is under min_size (1 GiB)"),
                ("ingest", 1, SITE, "a 2 GB download is inbound"),
                ("bulk-upload", 2, SITE + ALLOW, "the peer is an allow-listed partner")):
            alerts, _ = weight_alerts(args.binary, work, scenario, scale, config, failures)
            failures.check(not alerts, "%s x%s alerted although %s: %r"
                           % (scenario, scale, why, alerts[-1] if alerts else None))
            print("trap %s x%s: silent (%s)" % (scenario, scale, why))
        alerts, _ = weight_alerts(args.binary, work, "bulk-upload", 2, SITE, failures)
        failures.check(len({a["id"] for a in alerts}) == 1,
                       "bulk-upload x2 without the allow rule must alert (the trap's control)")
        failures.check(all(a["severity"] == "warning" for a in alerts),
                       "an unknown external peer is a warning: %r" % [a["severity"] for a in alerts])
        # The same upload to a destination marked sensitive is critical.
        sensitive = SITE + "detect:\n  sensitive: {prefixes: [203.0.113.0/24]}\n"
        alerts, _ = weight_alerts(args.binary, work, "bulk-upload", 2, sensitive, failures)
        failures.check(alerts and all(a["severity"] == "critical" for a in alerts),
                       "upload to a sensitive destination: %r" % [a["severity"] for a in alerts])

        # IPv6 on a VLAN: the same detector, the /48 as the peer group.
        alerts, _ = weight_alerts(args.binary, work, "v6-vlan-upload", 1, SITE, failures)
        failures.check(len({a["id"] for a in alerts}) == 1, "v6-vlan-upload: %d alerts"
                       % len({a["id"] for a in alerts}))
        if alerts:
            last = alerts[-1]
            failures.check(last["inside"] == "2001:db8:100:30::77"
                           and last["external"] == "2001:db8:f00::/48"
                           and last["payload_bytes"] == 1_500_000_000 and last["flows"] == 4,
                           "v6-vlan-upload alert %r" % last)

        # A slow upload paused longer than the gap: two transfers, each under min_size, silent.
        alerts, _, transfers = replay_alerts(args.binary, work, "slow-upload-gap", 1, SITE,
                                             failures)
        halves = [t for t in transfers if t["inside"] == "10.30.8.10"]
        failures.check(len(halves) == 2 and all(t["sent_payload_bytes"] == 600 << 20
                                                for t in halves),
                       "slow-upload-gap transfers %r" % halves)
        failures.check(not [a for a in alerts if a["kind"] == "weight_transfer"],
                       "slow-upload-gap: two 600 MiB halves alerted")
        print("slow-upload-gap: two transfers of 600 MiB, silent (each under min_size)")

        # Data in, then weights out to the same /24, with the ingest threshold at 1 GB an hour.
        cfg = SITE + "detect:\n  ingest:\n    windows: [{window: 1h, threshold: 1GB}]\n"
        alerts, _, _ = replay_alerts(args.binary, work, "train-and-return", 1, cfg, failures)
        by_kind = {}
        for a in alerts:
            by_kind.setdefault(a["kind"], {})[a["id"]] = a  # latest version of each id
        ingest = [a for a in by_kind.get("dataset_ingest", {}).values()
                  if a["external"] == "198.51.100.0/24" and not a.get("projected")]
        weight = list(by_kind.get("weight_transfer", {}).values())
        tar = list(by_kind.get("train_and_return", {}).values())
        failures.check(len(ingest) >= 1, "train-and-return: no dataset_ingest alert: %r"
                       % sorted(by_kind))
        failures.check(len(weight) == 1 and weight[0]["payload_bytes"] == 2_460_000_000,
                       "train-and-return: weight alerts %r" % weight)
        if failures.check(len(tar) == 1, "train-and-return: %d correlated alerts" % len(tar)):
            linked = set(tar[0].get("linked_ids", []))
            failures.check(weight and weight[0]["id"] in linked
                           and any(a["id"] in linked for a in ingest),
                           "train_and_return links %r, ingest %r, weight %r"
                           % (sorted(linked), [a["id"] for a in ingest],
                              [a["id"] for a in weight]))
        print("train-and-return: %d ingest, %d weight, %d correlated"
              % (len(ingest), len(weight), len(tar)))

        # East-west: 10 MB copied into storage by a host with no history, threshold 5 MB.
        cfg = SITE + ("detect:\n  staging: {window: 1h, threshold: 5MB, "
                      "storage: [10.20.0.0/24]}\n")
        alerts, _, _ = replay_alerts(args.binary, work, "edge-mix", 1, cfg, failures)
        staging = {a["id"]: a for a in alerts if a["kind"] == "staging_ingest"}
        failures.check(len(staging) == 1, "edge-mix staging alerts: %r" % list(staging.values()))
        for a in staging.values():
            failures.check(a["inside"] == "10.30.3.5" and a["payload_bytes"] == 10_000_000,
                           "staging alert %r" % a)
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
