#!/usr/bin/python3
"""history_roundtrip: what `replay --db` stores is what replay printed.

For generated scenarios that raise every alert kind (weights-16g: weight_transfer;
train-and-return with a 1 GB/h ingest window: dataset_ingest, weight_transfer and
train_and_return with linked ids; v6-vlan-upload: IPv6 on a VLAN; edge-mix with staging:
staging_ingest), each capture is replayed once with --alerts-out, --transfers-out, --flows-out
and --db, into a fresh database. Then, from the database alone:
- `history alerts --format json` must print exactly the lines of --alerts-out (every version;
  compared as sorted lines, and the number of versions per id);
- `history transfers --format json` exactly the lines of --transfers-out (the latest version of
  each transfer, tenant names included);
- `history flows --format json` exactly the lines of --flows-out (updates added up per flow);
- `history alerts --latest` one line per id, the highest version of --alerts-out;
- `history top --limit 0` (inside hosts, and --by external for /24 and /48 peer groups) bytes in
  and out per entity equal to what this script adds up from --flows-out, with inside and outside
  decided by the config's prefixes (Python's ipaddress);
- `history flows --inside P` the --flows-out lines with an inside end in P;
- `history alerts --since A --until B` (RFC 3339) the --alerts-out versions whose
  [first_seen, last_seen] overlaps [A, B);
- `history transfers --format csv` the same ids as the JSON form.

Skips while `weighbridge replay --help` does not mention --db (the lead wires the writer into
replay).

usage: history_roundtrip.py --binary PATH
"""

import argparse
import csv
import datetime
import io
import ipaddress
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import score_alerts  # noqa: E402
import wbtest  # noqa: E402
from score_alerts import HOUR, Params  # noqa: E402

GB = 10**9
MB = 10**6

# (scenario, scale, snaplen, params)
CASES = [
    ("weights-16g", 1, 80, Params()),
    ("train-and-return", 1, 80, Params(ingest_windows=[(HOUR, GB)])),
    ("v6-vlan-upload", 1, 80, Params()),
    ("edge-mix", 1, 128, Params(staging_window_s=HOUR, staging_threshold=5 * MB,
                                staging_storage=["10.20.0.0/24"])),
]


def config_text(params):
    """score_alerts' config plus a tenant, so that transfers carry a tenant name."""
    text = score_alerts.render_config(params)
    return text.replace("site:\n", "site:\n  tenants: [{name: research, prefixes: [10.0.0.0/8]},"
                        " {name: v6lab, prefixes: [2001:db8:100::/48]}]\n", 1)


def lines_of(path):
    with open(path, encoding="utf-8") as fh:
        return [l for l in fh.read().splitlines() if l.strip()]


def history(binary, db, what, failures, label, extra=()):
    p = wbtest.run([binary, "history", what, "--db", db, "--format", "json", *extra], timeout=300)
    if not failures.check(p.returncode == 0, "%s: history %s exit %d: %s" % (
            label, what, p.returncode, p.stderr.decode("utf-8", "replace")[-500:])):
        return None
    out = [l for l in p.stdout.decode("utf-8", "replace").splitlines() if l.strip()]
    try:
        wbtest.parse_flows("\n".join(out), "history " + what)
    except ValueError as e:
        failures.fail("%s: %s" % (label, e))
    return out


def compare(failures, label, what, got, want):
    if got is None:
        return
    if sorted(got) == sorted(want):
        return
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    failures.fail("%s: history %s differs from replay's output: %d lines vs %d; %d missing "
                  "(first %r), %d extra (first %r)" % (label, what, len(got), len(want),
                                                       len(missing), missing[:1], len(extra),
                                                       extra[:1]))


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def expected_rollups(flows, params):
    """Bytes in/out per inside host and per external group, from flows-out alone."""
    inside = [ipaddress.ip_network(p) for p in params.inside]

    def is_inside(a):
        ip = ipaddress.ip_address(a)
        return any(ip.version == n.version and ip in n for n in inside)

    def group(a):
        ip = ipaddress.ip_address(a)
        n = params.ipv4_group if ip.version == 4 else params.ipv6_group
        return str(ipaddress.ip_network("%s/%d" % (a, n), strict=False))

    hosts, groups = {}, {}

    def add(d, k, inb, outb):
        v = d.setdefault(k, [0, 0])
        v[0] += inb
        v[1] += outb

    for f in flows:
        a_in, b_in = is_inside(f["a"]), is_inside(f["b"])
        ab, ba = f["a_to_b_bytes"], f["b_to_a_bytes"]
        if a_in:
            add(hosts, f["a"], ba, ab)
        if b_in:
            add(hosts, f["b"], ab, ba)
        if a_in and not b_in:
            add(groups, group(f["b"]), ba, ab)
        if b_in and not a_in:
            add(groups, group(f["a"]), ab, ba)
    return hosts, groups


def check_queries(binary, db, params, want, failures, label):
    flows = [wbtest.parse_flows(l, "flows-out")[0] for l in want["flows"]]
    hosts, groups = expected_rollups(flows, params)
    for by, expect, key in (("host", hosts, "host"), ("external", groups, "external")):
        got = history(binary, db, "top", failures, label, ["--by", by, "--limit", "0"])
        if got is None:
            continue
        rows = {}
        for line in got:
            r = wbtest.parse_flows(line, "top")[0]
            rows[r[key]] = [r["in_bytes"], r["out_bytes"]]
        failures.check(rows == expect, "%s: top --by %s: %d rows, want %d; first differences %r"
                       % (label, by, len(rows), len(expect),
                          [(k, rows.get(k), expect.get(k))
                           for k in sorted(set(rows) | set(expect))
                           if rows.get(k) != expect.get(k)][:3]))
    # --inside: one host that has flows, its lines only.
    if hosts:
        host = sorted(hosts)[0]
        got = history(binary, db, "flows", failures, label, ["--inside", host])
        wanted = [l for l, f in zip(want["flows"], flows)
                  if host in (f["a"], f["b"])]
        compare(failures, label, "flows --inside " + host, got, wanted)
    # --since/--until: the middle third of the alerts' time span.
    alerts = [wbtest.parse_flows(l, "alerts-out")[0] for l in want["alerts"]]
    if alerts:
        t0 = min(parse_time(a["first_seen"]) for a in alerts)
        t1 = max(parse_time(a["last_seen"]) for a in alerts)
        a_t = t0 + (t1 - t0) / 3
        b_t = t0 + 2 * (t1 - t0) / 3
        fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
        got = history(binary, db, "alerts", failures, label,
                      ["--since", fmt(a_t), "--until", fmt(b_t)])
        wanted = [l for l, a in zip(want["alerts"], alerts)
                  if parse_time(a["first_seen"]) < b_t and parse_time(a["last_seen"]) >= a_t]
        compare(failures, label, "alerts --since/--until", got, wanted)
    p = wbtest.run([binary, "history", "transfers", "--db", db, "--format", "csv"], timeout=300)
    if failures.check(p.returncode == 0, "%s: transfers csv exit %d" % (label, p.returncode)):
        rows = list(csv.DictReader(io.StringIO(p.stdout.decode("utf-8"))))
        ids = sorted(r["id"] for r in rows)
        want_ids = sorted(wbtest.parse_flows(l, "transfers-out")[0]["id"]
                          for l in want["transfers"])
        failures.check(ids == want_ids, "%s: transfers csv ids differ from --transfers-out"
                       % label)
    print("%s: rollups of %d hosts and %d peer groups match flows-out" % (
        label, len(hosts), len(groups)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if "--db" not in wbtest.help_text(args.binary, "replay"):
        wbtest.skip("`weighbridge replay --help` does not mention --db: replay cannot write "
                    "history in this build yet")
    if "--db" not in wbtest.help_text(args.binary, "history"):
        wbtest.skip("this weighbridge has no history command")
    failures = wbtest.Failures()
    work = wbtest.temp_dir("wb-history-roundtrip-")
    only = set(filter(None, args.only.split(",")))
    kinds = set()
    try:
        for scenario, scale, snaplen, params in CASES:
            if only and scenario not in only:
                continue
            label = scenario
            cap = os.path.join(work, scenario + ".pcap")
            p = wbtest.run([args.binary, "synth", "--scenario", scenario, "--scale", str(scale),
                            "--snaplen", str(snaplen), "--out", cap, "--truth", "none"],
                           timeout=300)
            if not failures.check(p.returncode == 0, "synth %s: %s" % (
                    scenario, p.stderr.decode()[-300:])):
                continue
            cfg = os.path.join(work, scenario + ".yaml")
            with open(cfg, "w", encoding="utf-8") as fh:
                fh.write(config_text(params))
            db = os.path.join(work, scenario + ".db")
            outs = {k: os.path.join(work, "%s.%s.jsonl" % (scenario, k))
                    for k in ("alerts", "transfers", "flows")}
            p = wbtest.run([args.binary, "replay", cap, "--config", cfg, "--no-progress",
                            "--alerts-out", outs["alerts"], "--transfers-out", outs["transfers"],
                            "--flows-out", outs["flows"], "--db", db], timeout=300)
            if not failures.check(p.returncode == 0, "%s: replay exit %d: %s" % (
                    label, p.returncode, p.stderr.decode()[-500:])):
                continue
            want = {k: lines_of(v) for k, v in outs.items()}
            failures.check(want["alerts"], "%s: the scenario raised no alert (the case is "
                           "meant to)" % label)
            for line in want["alerts"]:
                kinds.add(wbtest.parse_flows(line, "alerts-out")[0]["kind"])
            for what in ("alerts", "transfers", "flows"):
                got = history(args.binary, db, what, failures, label,
                              ["--config", cfg] if what == "transfers" else [])
                compare(failures, label, what, got, want[what])
            # --latest: the highest version of each id.
            latest = {}
            for line in want["alerts"]:
                a = wbtest.parse_flows(line, "alerts-out")[0]
                if a["id"] not in latest or latest[a["id"]][0] < a["version"]:
                    latest[a["id"]] = (a["version"], line)
            got = history(args.binary, db, "alerts", failures, label, ["--latest"])
            compare(failures, label, "alerts --latest", got, [l for _, l in latest.values()])
            check_queries(args.binary, db, params, want, failures, label)
            print("%s: %d alert versions, %d transfers, %d flows round-tripped" % (
                label, len(want["alerts"]), len(want["transfers"]), len(want["flows"])),
                flush=True)
        if not only:
            failures.check(kinds >= {"weight_transfer", "dataset_ingest", "train_and_return",
                                     "staging_ingest"},
                           "not every alert kind was exercised: %r" % sorted(kinds))
    finally:
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
