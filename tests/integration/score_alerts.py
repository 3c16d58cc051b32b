#!/usr/bin/python3
"""score_alerts: an independent oracle for the detectors, and a scorer for their alerts.

The oracle computes the alerts a scenario SHOULD raise from the generator's own truth
(`weighbridge synth` writes FILE.pcap.truth.jsonl, one line per flow, docs/synth.md) and the
numbers the test's config sets, following the rules written in docs/detectors.md. It never reads
the product's transfers or alerts. The scorer matches the expected alerts to the alerts the
product wrote (`--alerts-out`, latest version of each id) and reports each one as detected,
missed or false (raised although not expected).

Oracle rules (docs/detectors.md; "Params" below lists the numbers):
- A flow with one end in site.inside is external (the inside end is the host); both ends inside
  is internal (the host is `a`, the side that sent the first packet); neither is transit, ignored.
- Transfers: external flows grouped by (inside host, peer cut to ipv4_group/ipv6_group bits),
  in order of first packet; a flow starting more than `gap` after the group's last packet so far
  starts a new transfer. A transfer is outbound when sent payload >= received payload.
- weight_transfer: an outbound transfer whose sent payload >= min_size and whose group is not
  wholly covered by an `outbound` allow prefix. Model: the catalog size with the smallest
  relative error |payload - size| / size, if <= tolerance; ties go to the entry listed first.
  Severity warning, critical when the group overlaps a sensitive prefix.
- dataset_ingest: inbound payload (the received side of every external transfer) per external
  group (tenants are not configured by the tests, so the tenant is the site), each flow's bytes
  spread evenly over its [first, last] in 1 s bins; an alert per episode in which the sliding
  `window` sum is > threshold, with payload = the highest window sum of the episode.
- staging_ingest: internal flows into storage: host a -> b whose group overlaps a storage prefix
  (a not in storage): uploader a, bytes a->b; a in storage, b's group not: uploader b's group,
  bytes b->a. Alert when the uploader's window sum > threshold and it sent < baseline_max into
  storage during `baseline` before the window; payload = the highest window sum.
- train_and_return: a weight_transfer whose group overlaps the group of an ingest episode that
  began no later than the transfer and was last above threshold at most `within` before the
  transfer began (the most recent such episode): one alert, with the weight transfer's inside,
  group, payload and model.

Matching (score): an actual alert (latest version of its id) matches an expected one when kind,
external group, inside host (where the oracle names one: not for dataset_ingest) and model name
(or no model on both) are equal and payload_bytes is within PAYLOAD_TOLERANCE of the expected.
Among several candidates the closest payload wins. Severity is compared for each matched pair.
An actual alert whose latest version is still a projection (`projected: true`) is a forecast,
not a crossing, and is scored like any other alert: the oracle predicts none, so it counts as
false.

The oracle also returns notes where its answer is near an edge the product is allowed to blur:
a window sum within EDGE_MARGIN of its threshold (buckets and flow-update timing), or one that
could raise a projection. A test config should avoid those. Transfer sizes are exact sums, so
an upload a few bytes under min_size is not an edge: it must stay silent.

usage (stand-alone): score_alerts.py --truth T.jsonl --params P.json --alerts A.jsonl
  [--catalog config/models.yaml]; P.json holds the Params fields as a JSON object.
  Exit 0 when all expected alerts are detected and none is false, 1 otherwise.
"""

import argparse
import bisect
import dataclasses
import datetime
import ipaddress
import json
import os
import re
import socket
import sys

# payload_bytes of an actual alert may differ from the oracle's by this fraction. Transfers are
# exact sums of the truth; window sums can lose bytes at the trailing bucket (docs/detectors.md,
# "Buckets") and are timed by flow updates rather than packets.
PAYLOAD_TOLERANCE = 0.005
# Window sums and sizes this close (relative) to a threshold are edge cases (see the docstring).
EDGE_MARGIN = 0.05
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CATALOG = os.path.join(REPO, "config", "models.yaml")

HOUR = 3600
DAY = 86400


@dataclasses.dataclass
class Params:
    """What the oracle needs from a test config; render_config() writes the same as YAML."""
    inside: list = dataclasses.field(
        default_factory=lambda: ["10.0.0.0/8", "2001:db8:100::/48"])
    min_size: int = 1 << 30
    gap_s: float = 600.0
    tolerance: float = 0.02
    ipv4_group: int = 24
    ipv6_group: int = 48
    # (window seconds, threshold bytes), the product's defaults.
    ingest_windows: list = dataclasses.field(
        default_factory=lambda: [(HOUR, 10 * 10**12), (DAY, 100 * 10**12),
                                 (7 * DAY, 10**15)])
    staging_window_s: float = HOUR
    staging_threshold: int = 10 * 10**12
    staging_storage: list = dataclasses.field(default_factory=list)
    staging_baseline_s: float = 7 * DAY
    staging_baseline_max: int = 10**12
    within_s: float = 30 * DAY
    # [(name, [prefixes], [directions])]
    allow: list = dataclasses.field(default_factory=list)
    sensitive_prefixes: list = dataclasses.field(default_factory=list)
    projection_min_fraction: float = 0.10


def render_config(p):
    """The YAML config that sets exactly the numbers in p (whole bytes and seconds)."""
    lines = ["site:", "  inside: [%s]" % ", ".join(p.inside), "detect:",
             "  weight_transfer:",
             "    min_size: %dB" % p.min_size,
             "    gap: %ds" % p.gap_s,
             "    tolerance: %s%%" % repr(p.tolerance * 100),
             "    external_group: {ipv4_prefix: %d, ipv6_prefix: %d}" % (p.ipv4_group,
                                                                         p.ipv6_group),
             "  ingest:",
             "    external_group: {ipv4_prefix: %d, ipv6_prefix: %d}" % (p.ipv4_group,
                                                                         p.ipv6_group),
             "    windows: [%s]" % ", ".join("{window: %ds, threshold: %dB}" % (w, t)
                                             for w, t in p.ingest_windows),
             "  staging:",
             "    window: %ds" % p.staging_window_s,
             "    threshold: %dB" % p.staging_threshold,
             "    storage: [%s]" % ", ".join(p.staging_storage),
             "    baseline: %ds" % p.staging_baseline_s,
             "    baseline_max: %dB" % p.staging_baseline_max,
             "  train_and_return:",
             "    within: %ds" % p.within_s,
             "  allow: [%s]" % ", ".join(
                 "{name: %s, prefixes: [%s], directions: [%s]}" % (n, ", ".join(pre),
                                                                  ", ".join(d))
                 for n, pre, d in p.allow),
             "  sensitive: {prefixes: [%s]}" % ", ".join(p.sensitive_prefixes)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Model catalog: config/models.yaml holds one flow map per line under `dtypes:` and `models:`.

def _split_top(text, sep=","):
    """Splits at sep outside quotes and brackets."""
    out, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


def _scalar(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    if v.startswith("["):
        return [_scalar(x) for x in _split_top(v[1:-1])]
    return v


def _flow_map(text):
    """'{a: 1, b: "x, y", c: [p, q]}' -> dict of strings (and lists of strings)."""
    body = text.strip()
    assert body.startswith("{") and body.endswith("}"), body
    out = {}
    for item in _split_top(body[1:-1]):
        k, _, v = item.partition(":")
        out[k.strip()] = _scalar(v)
    return out


def _strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _count(text):
    m = re.fullmatch(r"([0-9.]+)([KMBT]?)", text)
    assert m, text
    return round(float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[m.group(2)])


def load_catalog(path=DEFAULT_CATALOG):
    """[(model, dtype, size_bytes)] in the catalog's order: each model by each of its dtypes."""
    dtypes, models, section = [], [], None
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = _strip_comment(raw).rstrip()
            if not line.strip():
                continue
            if not line.startswith(" "):
                section = line.rstrip(":").strip()
                continue
            item = line.strip()
            if not item.startswith("- {"):
                continue
            m = _flow_map(item[2:])
            if section == "dtypes":
                over = float(m.get("overhead", "0%").rstrip("%")) / 100
                dtypes.append((m["name"], float(m["bits"]), over))
            elif section == "models":
                models.append((m["name"], _count(m["params"]), m.get("dtypes")))
    by_name = {d[0]: d for d in dtypes}
    out = []
    for name, params, names in models:
        for dname, bits, over in ([by_name[n] for n in names] if names else dtypes):
            out.append((name, dname, params * bits / 8 * (1 + over)))
    return out


def match_model(payload, catalog, tolerance):
    """(name, dtype, error_pct) of the closest size within tolerance, or None."""
    best = None
    for name, dtype, size in catalog:
        err = abs(payload - size) / size
        if err <= tolerance + 1e-12 and (best is None or err < best[0]):
            best = (err, name, dtype, (payload - size) / size * 100)
    return None if best is None else best[1:]


# ---------------------------------------------------------------------------------------------
# The oracle.

_SECONDS = {}


def _ts(text):
    """RFC 3339 UTC with microseconds ("2026-01-01T00:00:01.000091Z") -> epoch seconds.
    Cached by the whole second: a truth file has hundreds of thousands of these."""
    head = text[:19]
    base = _SECONDS.get(head)
    if base is None:
        base = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        _SECONDS[head] = base
    frac = text[19:].rstrip("Z")
    return base + (float(frac) if frac else 0.0)


def _net(text):
    return ipaddress.ip_network(text, strict=False)


def _covers(outer, inner):
    return outer.version == inner.version and inner.subnet_of(outer)


def _overlaps(x, y):
    return x.version == y.version and x.overlaps(y)


class _Site:
    def __init__(self, p):
        self.p = p
        self.inside = [_net(x) for x in p.inside]
        self.storage = [_net(x) for x in p.staging_storage]

        self.cache = {}
        self.groups = {}
        self.allowed_cache = {}
        self.gmask4 = (0xFFFFFFFF << (32 - p.ipv4_group)) & 0xFFFFFFFF
        self.inside4 = [(int(n.network_address), int(n.netmask)) for n in self.inside
                        if n.version == 4]

    def info(self, text):
        """(address text, inside?, its group, the group's text) of an address, cached. IPv4
        takes a path through plain integers: a flood scenario has ~65k distinct addresses."""
        got = self.cache.get(text)
        if got is not None:
            return got
        try:
            n = int.from_bytes(socket.inet_aton(text), "big") if "." in text else None
        except OSError:
            n = None
        if n is not None and text.count(".") == 3:
            g = n & self.gmask4
            gtext = "%s/%d" % (socket.inet_ntoa(g.to_bytes(4, "big")), self.p.ipv4_group)
            group = self.groups.get(gtext)
            if group is None:
                group = self.groups[gtext] = ipaddress.ip_network(gtext)
            got = (text, any(n & m == v for v, m in self.inside4), group, gtext)
        else:
            addr = ipaddress.ip_address(text)
            bits = self.p.ipv4_group if addr.version == 4 else self.p.ipv6_group
            group = ipaddress.ip_network("%s/%d" % (addr, bits), strict=False)
            got = (str(addr), any(addr in n for n in self.inside if n.version == addr.version),
                   group, str(group))
        self.cache[text] = got
        return got

    def allowed(self, group, direction):
        """True when an allow rule for direction covers the whole group."""
        key = (group, direction)
        got = self.allowed_cache.get(key)
        if got is None:
            got = any(_covers(_net(pre), group) and direction in dirs
                      for _, pres, dirs in self.p.allow for pre in pres)
            self.allowed_cache[key] = got
        return got

    def storage_of(self, net):
        for s in self.storage:
            if _overlaps(s, net):
                return s
        return None


def _window_episodes(events, window_s, threshold):
    """events: {second: bytes}; the sum at second x covers the bins in (x - window, x].
    Returns ([(start_s, last_above_s, peak_sum)] for every run of sums > threshold, the
    highest sum seen at all)."""
    times = sorted(events)
    prefix = [0]
    for t in times:
        prefix.append(prefix[-1] + events[t])

    def window_sum(x):
        return (prefix[bisect.bisect_right(times, x)]
                - prefix[bisect.bisect_right(times, x - window_s)])

    def last_above(lo, hi):
        # The sum does not rise between two event seconds: binary search on [lo, hi].
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if window_sum(mid) > threshold:
                lo = mid
            else:
                hi = mid - 1
        return lo

    episodes, cur, best = [], None, 0
    for i, t in enumerate(times):
        s = window_sum(t)
        best = max(best, s)
        if s > threshold:
            if cur is None:
                cur = [t, t, s]
            cur[2] = max(cur[2], s)
        if cur is None:
            continue
        nxt = times[i + 1] if i + 1 < len(times) else None
        if nxt is None:
            cur[1] = last_above(t, t + int(window_s))
        elif window_sum(nxt - 1) <= threshold:
            cur[1] = last_above(t, nxt - 1)
        else:
            continue
        episodes.append(tuple(cur))
        cur = None
    return episodes, best


def _spread(events, first, last, nbytes):
    """Adds nbytes to 1 s bins over [first, last], evenly, as whole bytes."""
    if nbytes <= 0:
        return
    a, b = int(first), int(last)
    n = b - a + 1
    share, rem = divmod(nbytes, n)
    for k in range(n):
        events[a + k] = events.get(a + k, 0) + share + (1 if k < rem else 0)


def expected_alerts(truth, p, catalog):
    """(expected alerts, notes). Each expected alert is a dict: kind, inside (or None),
    external, payload_bytes, model (name or None), dtype, error_pct, severity, first."""
    site = _Site(p)
    sensitive = [_net(x) for x in p.sensitive_prefixes]
    notes = []
    transfers = {}  # (inside, group) -> list of transfers (dicts), in order
    ingest_events = {}  # group -> {second: bytes}
    staging_events = {}  # (uploader, storage) -> {second: bytes}
    timed = sorted(((_ts(f["first"]), _ts(f["last"]), i) for i, f in enumerate(truth)))
    gap = p.gap_s
    for first, last, i in timed:
        f = truth[i]
        a, ain, agroup, agroup_text = site.info(f["a"])
        b, bin_, bgroup, bgroup_text = site.info(f["b"])
        if ain and bin_:
            ab, ba = int(f["a_to_b_payload_bytes"]), int(f["b_to_a_payload_bytes"])
            to_storage = site.storage_of(bgroup)
            host_net = ipaddress.ip_network(a)
            from_storage = site.storage_of(host_net)
            if to_storage is not None and from_storage is None:
                key, nbytes = (str(host_net), str(to_storage)), ab
            elif from_storage is not None and to_storage is None:
                key, nbytes = (bgroup_text, str(from_storage)), ba
            else:
                continue
            _spread(staging_events.setdefault(key, {}), first, last, nbytes)
            continue
        if ain:
            host, group, gtext = a, bgroup, bgroup_text
            sent, recv = int(f["a_to_b_payload_bytes"]), int(f["b_to_a_payload_bytes"])
        elif bin_:
            host, group, gtext = b, agroup, agroup_text
            sent, recv = int(f["b_to_a_payload_bytes"]), int(f["a_to_b_payload_bytes"])
        else:
            continue  # transit
        key = (host, gtext)
        lst = transfers.get(key)
        if lst is None:
            lst = transfers[key] = []
        # [first, last, sent, recv, flows, host, group]
        if lst and first <= lst[-1][1] + gap:
            t = lst[-1]
            if last > t[1]:
                t[1] = last
            t[2] += sent
            t[3] += recv
            t[4] += 1
        else:
            lst.append([first, last, sent, recv, 1, host, group])
        if recv and not site.allowed(group, "inbound"):
            _spread(ingest_events.setdefault(gtext, {}), first, last, recv)
    transfers = {k: [{"first": t[0], "last": t[1], "sent": t[2], "recv": t[3], "flows": t[4],
                      "inside": t[5], "group": t[6]} for t in lst]
                 for k, lst in transfers.items()}

    expected = []
    weights = []
    for (_, _), lst in sorted(transfers.items()):
        for t in lst:
            if t["sent"] < t["recv"]:
                continue
            size = t["sent"]
            if size < p.min_size:
                continue
            if site.allowed(t["group"], "outbound"):
                continue
            m = match_model(size, catalog, p.tolerance)
            a = {"kind": "weight_transfer", "inside": t["inside"], "external": str(t["group"]),
                 "payload_bytes": size, "model": m[0] if m else None,
                 "dtype": m[1] if m else None, "error_pct": m[2] if m else None,
                 "severity": "critical" if any(_overlaps(s, t["group"]) for s in sensitive)
                 else "warning", "first": t["first"], "flows": t["flows"]}
            expected.append(a)
            weights.append((a, t))

    memories = []  # (group net, began, last above)
    for g, events in sorted(ingest_events.items()):
        for window, threshold in p.ingest_windows:
            eps, best = _window_episodes(events, window, threshold)
            if best and abs(best - threshold) <= threshold * EDGE_MARGIN:
                notes.append("dataset_ingest %s %ds: highest window sum %d is near the "
                             "threshold %d" % (g, window, best, threshold))
            if not eps and best >= threshold * p.projection_min_fraction:
                notes.append("dataset_ingest %s %ds: window reaches %.1f%% of the threshold, "
                             "a projection may be raised" % (g, window, best / threshold * 100))
            for start, last_above, peak in eps:
                expected.append({"kind": "dataset_ingest", "inside": None, "external": g,
                                 "payload_bytes": peak, "model": None, "dtype": None,
                                 "error_pct": None, "severity": "critical" if any(
                                     _overlaps(s, _net(g)) for s in sensitive) else "warning",
                                 "first": start, "window_s": window})
                memories.append((_net(g), start, last_above))

    for (uploader, storage), events in sorted(staging_events.items()):
        eps, best = _window_episodes(events, p.staging_window_s, p.staging_threshold)
        if best and abs(best - p.staging_threshold) <= p.staging_threshold * EDGE_MARGIN:
            notes.append("staging_ingest %s: highest window sum %d is near the threshold %d"
                         % (uploader, best, p.staging_threshold))
        times = sorted(events)
        for start, _, peak in eps:
            window_begin = start - p.staging_window_s
            history = sum(events[t] for t in times
                          if window_begin - p.staging_baseline_s <= t <= window_begin)
            if history >= p.staging_baseline_max:
                continue
            expected.append({"kind": "staging_ingest", "inside": uploader, "external": storage,
                             "payload_bytes": peak, "model": None, "dtype": None,
                             "error_pct": None, "severity": "warning", "first": start})

    for a, t in weights:
        best = None
        for g, began, last_above in memories:
            if (_overlaps(g, t["group"]) and began <= t["first"]
                    and t["first"] - last_above <= p.within_s):
                if best is None or began > best[1]:
                    best = (g, began, last_above)
        if best is not None:
            tar = dict(a)
            tar["kind"] = "train_and_return"
            tar["severity"] = "critical"
            expected.append(tar)
    return expected, notes


# ---------------------------------------------------------------------------------------------
# Scoring.

def latest_versions(alert_lines):
    """The highest version of each alert id, in order of first appearance."""
    latest = {}
    for a in alert_lines:
        cur = latest.get(a["id"])
        if cur is None or a["version"] >= cur["version"]:
            latest[a["id"]] = a
    return list(latest.values())


def _model_name(a):
    m = a.get("model_match")
    return m.get("name") if isinstance(m, dict) else None


def _norm(text):
    """A host or prefix in one spelling: "10.0.0.1" and "10.0.0.1/32" are the same."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        return text


def _matches(e, a):
    if a["kind"] != e["kind"] or _norm(a.get("external")) != _norm(e["external"]):
        return False
    if e["inside"] is not None and _norm(a.get("inside")) != _norm(e["inside"]):
        return False
    if _model_name(a) != e["model"]:
        return False
    return abs(int(a.get("payload_bytes", -1)) - e["payload_bytes"]) <= \
        PAYLOAD_TOLERANCE * e["payload_bytes"]


def score(expected, actual_lines):
    """{'detected': [(expected, actual)], 'missed': [expected], 'false': [actual],
    'mismatch': [text]} from the expected alerts and every line of --alerts-out."""
    actual = latest_versions(actual_lines)
    free = list(actual)
    detected, missed, mismatch = [], [], []
    for e in expected:
        cands = [a for a in free if _matches(e, a)]
        if not cands:
            missed.append(e)
            continue
        a = min(cands, key=lambda x: abs(int(x["payload_bytes"]) - e["payload_bytes"]))
        free.remove(a)
        detected.append((e, a))
        if a.get("severity") != e["severity"]:
            mismatch.append("%s %s -> %s: severity %r, expected %r" % (
                e["kind"], e["inside"], e["external"], a.get("severity"), e["severity"]))
        if a.get("projected"):
            mismatch.append("%s %s: still a projection" % (e["kind"], e["external"]))
    return {"detected": detected, "missed": missed, "false": free, "mismatch": mismatch}


def _row(result, kind, inside, external, exp_payload, got_payload, model):
    return "  %-8s %-16s %-20s %-20s %15s %15s  %s" % (
        result, kind, inside or "-", external, exp_payload, got_payload, model or "-")


def format_table(name, result):
    out = ["%s: %d detected, %d missed, %d false" % (
        name, len(result["detected"]), len(result["missed"]), len(result["false"])),
        _row("result", "kind", "inside", "external", "expected_payload", "got_payload",
             "model")]
    for e, a in result["detected"]:
        out.append(_row("detected", e["kind"], a.get("inside"), e["external"],
                        e["payload_bytes"], a["payload_bytes"],
                        "%s %s" % (_model_name(a), (a.get("model_match") or {}).get("dtype"))
                        if _model_name(a) else None))
    for e in result["missed"]:
        out.append(_row("MISSED", e["kind"], e["inside"], e["external"], e["payload_bytes"],
                        "-", e["model"] and "%s %s" % (e["model"], e["dtype"])))
    for a in result["false"]:
        out.append(_row("FALSE", a["kind"], a.get("inside"), a.get("external"), "-",
                        a.get("payload_bytes"), _model_name(a)))
    for m in result["mismatch"]:
        out.append("  MISMATCH " + m)
    return "\n".join(out)


def _load_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--params", required=True, help="JSON object of Params fields")
    ap.add_argument("--alerts", required=True)
    ap.add_argument("--catalog", default=DEFAULT_CATALOG)
    args = ap.parse_args()
    with open(args.params, encoding="utf-8") as fh:
        p = Params(**json.load(fh))
    expected, notes = expected_alerts(_load_jsonl(args.truth), p, load_catalog(args.catalog))
    result = score(expected, _load_jsonl(args.alerts))
    print(format_table(os.path.basename(args.truth), result))
    for n in notes:
        print("  note: " + n)
    sys.exit(0 if not (result["missed"] or result["false"] or result["mismatch"]) else 1)


if __name__ == "__main__":
    main()
