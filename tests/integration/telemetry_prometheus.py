#!/usr/bin/python3
"""Metrics end to end, against a real Prometheus (Debian's `prometheus`).

A sensor replays the synthetic edge-mix scenario paced in stream time and serves /metrics; a
Prometheus on loopback scrapes it every second. Then:
  - `promtool check metrics` passes on a scrape;
  - totals in Prometheus match ground truth the product did not produce: frames from reading
    the capture file ourselves, L3 bytes by direction from the generator's truth file classified
    with Python's ipaddress module against the site prefixes;
  - every dashboard panel's PromQL is valid and returns data, through the HTTP API;
  - every metric the dashboards and rules use exists in the scrape, and every metric family
    the sensor exports is on some panel;
  - Prometheus loads the shipped rule files.

The sensor is `weighbridge replay --speed N --metrics LISTEN --linger D` when the binary's
replay --help mentions --metrics, else the test driver (tests/unit/telemetry/telemetry_driver.cc)
that wires the same objects.
"""

import argparse
import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402

SPEED = 6          # edge-mix is 60 s of traffic: 10 s of replay
SCRAPE_S = 1
INSIDE = ["10.0.0.0/8", "2001:db8:100::/48"]
STABLE_UIDS = {"weighbridge-overview", "weighbridge-transfers", "weighbridge-sensor-health",
               "weighbridge-flow-inputs"}
# Dashboards of inputs this replay does not have: their queries must be valid here, and their
# data is checked where such inputs run (integration.flowproto_sampled: every metric these
# panels use is in its scrape of `replay --metrics` with an sFlow input).
NO_DATA_HERE = {"weighbridge-flow-inputs.json"}
# Families a sensor exports only with flow-protocol inputs or IPFIX export.
ONLY_WITH_FLOW_PROTOCOLS = ("weighbridge_flow_input_", "weighbridge_sflow_", "weighbridge_export_")
# Grafana's built-in variables, replaced as Grafana would for a short time range.
GRAFANA_VARS = {"$__rate_interval": "5s", "$__range": "2m", "$__interval": "1s",
                "$instance": ".*"}
# Families that are on no panel on purpose (none so far).
NOT_ON_PANELS = set()
# prometheus-cpp's exposer adds its own families; they are not ours to chart.
FOREIGN_PREFIXES = ("exposer_",)


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def prom_api(base, path, params):
    url = base + path + "?" + urllib.parse.urlencode(params)
    try:
        body = http_get(url, timeout=10)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
    return json.loads(body)


def families(text):
    """Metric family names and types from the exposition text's # TYPE lines."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def metric_names(expr):
    """weighbridge_* metric names in a PromQL expression, histogram suffixes stripped."""
    names = set()
    for n in re.findall(r"\b(weighbridge_[a-zA-Z0-9_]+)", expr):
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix) and not n.endswith("_total"):
                base = n[: -len(suffix)]
                names.add(base)
                break
        else:
            names.add(n)
    return names


def substitute(expr):
    for k, v in sorted(GRAFANA_VARS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(k, v)
    return expr


def load_dashboards(source_dir, failures):
    """[(file, dashboard dict)], after checking each one's structure."""
    out = []
    paths = sorted(glob.glob(os.path.join(source_dir, "dashboards", "*.json")))
    failures.check(len(paths) >= 3, "expected three dashboards, found %r" % paths)
    uids = []
    for path in paths:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
        out.append((name, d))
        uids.append(d.get("uid"))
        tvars = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        ds = tvars.get("datasource", {})
        failures.check(ds.get("type") == "datasource" and ds.get("query") == "prometheus",
                       "%s: no prometheus datasource variable" % name)
        failures.check("weighbridge" in d.get("tags", []), "%s: not tagged weighbridge" % name)
        ids = [p.get("id") for p in d.get("panels", [])]
        failures.check(len(ids) == len(set(ids)) and None not in ids,
                       "%s: panel ids not unique: %r" % (name, ids))
        for p in d.get("panels", []):
            title = p.get("title", "?")
            g = p.get("gridPos", {})
            failures.check(g.get("x", -1) >= 0 and g.get("x", 0) + g.get("w", 99) <= 24
                           and g.get("h", 0) > 0,
                           "%s / %s: gridPos %r" % (name, title, g))
            failures.check(p.get("datasource", {}).get("uid") == "${datasource}",
                           "%s / %s: datasource is not ${datasource}" % (name, title))
            targets = p.get("targets") or []
            failures.check(targets, "%s / %s: no targets" % (name, title))
            refs = [t.get("refId") for t in targets]
            failures.check(len(refs) == len(set(refs)), "%s / %s: refIds %r" % (name, title, refs))
            for t in targets:
                failures.check(t.get("expr", "").strip(), "%s / %s: empty expr" % (name, title))
                failures.check(t.get("datasource", {}).get("uid") == "${datasource}",
                               "%s / %s: target datasource" % (name, title))
    failures.check(len(uids) == len(set(uids)), "dashboard uids not unique: %r" % uids)
    failures.check(set(uids) == STABLE_UIDS,
                   "dashboard uids %r changed (they are stable: links rely on them)" % uids)
    return out


def rule_exprs(source_dir):
    """(file, expr) of every rule in config/prometheus/*.rules.yml (a small YAML reader: the
    files keep each expr on `expr:` lines or a `|` block)."""
    out = []
    for path in sorted(glob.glob(os.path.join(source_dir, "config", "prometheus", "*.rules.yml"))):
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"^(\s*)(- )?expr:\s*(.*)$", lines[i])
            if m:
                indent = len(m.group(1))
                rest = m.group(3)
                if rest.strip() == "|":
                    block = []
                    i += 1
                    while i < len(lines) and (not lines[i].strip()
                                              or len(lines[i]) - len(lines[i].lstrip()) > indent):
                        block.append(lines[i].strip())
                        i += 1
                    out.append((os.path.basename(path), " ".join(block)))
                    continue
                out.append((os.path.basename(path), rest))
            i += 1
    return out


def truth_bytes_by_direction(truth_path):
    """L3 bytes by packet direction relative to the site, from the generator's truth."""
    nets = [ipaddress.ip_network(n) for n in INSIDE]

    def inside(a):
        ip = ipaddress.ip_address(a)
        return any(ip.version == n.version and ip in n for n in nets)

    out = {"inbound": 0, "outbound": 0, "internal": 0, "transit": 0}
    for f in wbtest.load_jsonl(truth_path):
        for src, dst, key in ((f["a"], f["b"], "a_to_b_bytes"), (f["b"], f["a"], "b_to_a_bytes")):
            si, di = inside(src), inside(dst)
            d = ("internal" if si and di else "outbound" if si else "inbound" if di
                 else "transit")
            out[d] += int(f[key])
    return out


def truth_ingest_peak(truth_path):
    """Inbound payload per external group (/24, /48) over the whole capture, the largest one:
    what the 1 h ingest window holds at the end of a 60 s scenario."""
    nets = [ipaddress.ip_network(n) for n in INSIDE]

    def inside(a):
        ip = ipaddress.ip_address(a)
        return any(ip.version == n.version and ip in n for n in nets)

    groups = {}
    for f in wbtest.load_jsonl(truth_path):
        ai, bi = inside(f["a"]), inside(f["b"])
        if ai == bi:
            continue  # internal or transit: not ingest
        ext, payload = ((f["b"], int(f["b_to_a_payload_bytes"])) if ai
                        else (f["a"], int(f["a_to_b_payload_bytes"])))
        ip = ipaddress.ip_address(ext)
        g = ipaddress.ip_network("%s/%d" % (ext, 24 if ip.version == 4 else 48), strict=False)
        groups[g] = groups.get(g, 0) + payload
    return max(groups.values()) if groups else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--driver", default="")
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            wbtest.skip("%s not installed (Debian package prometheus)" % tool)

    failures = wbtest.Failures()
    dashboards = load_dashboards(args.source_dir, failures)
    gen = subprocess.run([sys.executable, os.path.join(args.source_dir, "dashboards", "generate.py"),
                          "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=30, check=False)
    failures.check(gen.returncode == 0, "dashboards/generate.py --check: %s"
                   % gen.stdout.decode().strip())

    use_replay = "--metrics" in wbtest.help_text(args.binary, "replay")
    if not use_replay and not (args.driver and os.access(args.driver, os.X_OK)):
        wbtest.skip("replay has no --metrics yet and no telemetry_driver was given")

    work = wbtest.temp_dir("wb-telemetry-")
    procs = []
    logs = []
    try:
        cap = os.path.join(work, "edge.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "edge-mix", "--out", cap], timeout=60)
        if p.returncode != 0:
            failures.fail("synth failed: %s" % p.stderr.decode())
            failures.finish()
        frames_truth = len(wbtest.read_capture(cap).records)
        bytes_truth = truth_bytes_by_direction(cap + ".truth.jsonl")
        cfg = os.path.join(work, "config.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(
                "site:\n  inside: [%s]\n" % ", ".join(INSIDE)
                + "pipeline: {workers: 2, idle_timeout: 5s, active_timeout: 5s}\n"
                "detect:\n"
                "  weight_transfer: {min_size: 10MB, catalog: %s}\n"
                % os.path.join(args.source_dir, "config", "models.yaml")
                + "  ingest:\n    windows: [{window: 1m, threshold: 20MB}, "
                "{window: 1h, threshold: 100MB}]\n"
                "  staging: {window: 1h, threshold: 5MB, storage: [10.20.0.0/24]}\n")

        sensor_port = wbtest.free_port()
        sensor_log = open(os.path.join(work, "sensor.log"), "wb")
        logs.append(sensor_log)
        if use_replay:
            cmd = [args.binary, "replay", cap, "--config", cfg, "--no-progress",
                   "--speed", str(SPEED), "--metrics", "127.0.0.1:%d" % sensor_port,
                   "--linger", "120s"]
        else:
            cmd = [args.driver, cap, "--config", cfg, "--speed", str(SPEED),
                   "--listen", "127.0.0.1:%d" % sensor_port, "--linger", "120",
                   "--top-window", "5"]
        print("sensor: " + " ".join(cmd), flush=True)
        t_start = time.time()
        sensor = subprocess.Popen(cmd, stdout=sensor_log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        procs.append(sensor)
        metrics_url = "http://127.0.0.1:%d/metrics" % sensor_port

        def scrape():
            try:
                return http_get(metrics_url, timeout=2)
            except (OSError, urllib.error.URLError):
                return None

        if not failures.check(wbtest.wait_for(scrape, 15) is not None,
                              "sensor never served %s" % metrics_url):
            failures.finish()

        prom_port = wbtest.free_port()
        prom_cfg = os.path.join(work, "prometheus.yml")
        rules_dir = os.path.join(args.source_dir, "config", "prometheus")
        with open(prom_cfg, "w", encoding="utf-8") as fh:
            fh.write("global: {scrape_interval: %ds, evaluation_interval: %ds}\n"
                     "rule_files: [%s, %s]\n"
                     "scrape_configs:\n"
                     "  - job_name: weighbridge\n"
                     "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                     % (SCRAPE_S, SCRAPE_S, os.path.join(rules_dir, "weighbridge.rules.yml"),
                        os.path.join(rules_dir, "fleet.rules.yml"), sensor_port))
        prom_log = open(os.path.join(work, "prometheus.log"), "wb")
        logs.append(prom_log)
        prom = subprocess.Popen(
            ["prometheus", "--config.file=" + prom_cfg,
             "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"],
            stdout=prom_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(prom)
        base = "http://127.0.0.1:%d" % prom_port

        def target_up():
            try:
                r = prom_api(base, "/api/v1/targets", {})
            except (OSError, ValueError, urllib.error.URLError):
                return None
            active = r.get("data", {}).get("activeTargets", [])
            return active and all(t.get("health") == "up" for t in active)

        if not failures.check(wbtest.wait_for(target_up, 25), "Prometheus never scraped the sensor up"):
            failures.finish()
        print("prometheus scraping after %.1f s" % (time.time() - t_start), flush=True)

        # The replay is done when every frame of the capture has been read and the flow updates
        # stop moving (the final flush); then give Prometheus three more scrapes.
        def final_frames():
            text = scrape()
            if not text:
                return None
            frames = re.search(r"^weighbridge_frames_total (\S+)$", text, re.M)
            ended = re.findall(r"^weighbridge_flows_ended_total\{[^}]*\} (\S+)$", text, re.M)
            started = re.search(r"^weighbridge_flows_started_total (\S+)$", text, re.M)
            if not (frames and started and ended):
                return None
            done = (float(frames.group(1)) >= frames_truth
                    and sum(float(x) for x in ended) == float(started.group(1)))
            return text if done else None

        final = wbtest.wait_for(final_frames, 45, 0.5)
        if not failures.check(final, "the replay did not finish in time"):
            failures.finish()
        print("replay finished after %.1f s" % (time.time() - t_start), flush=True)
        time.sleep(3 * SCRAPE_S + 0.5)

        # promtool's lint of what the sensor serves.
        scrape_file = os.path.join(work, "scrape.txt")
        with open(scrape_file, "w", encoding="utf-8") as fh:
            fh.write(final)
        with open(scrape_file, "rb") as fh:
            lint = subprocess.run(["promtool", "check", "metrics"], stdin=fh,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                                  check=False)
        failures.check(lint.returncode == 0 and not lint.stdout.strip(),
                       "promtool check metrics: %s" % lint.stdout.decode())
        fams = {n: t for n, t in families(final).items() if n.startswith("weighbridge_")}
        print("%d weighbridge metric families exported" % len(fams))

        def instant(expr):
            r = prom_api(base, "/api/v1/query", {"query": expr})
            if r.get("status") != "success":
                return None, r.get("error", r)
            return r["data"]["result"], None

        # Ground truth through Prometheus.
        res, err = instant("weighbridge_frames_total")
        failures.check(res and float(res[0]["value"][1]) == frames_truth,
                       "frames in Prometheus %r, the capture has %d (%s)"
                       % (res, frames_truth, err))
        for d, want in bytes_truth.items():
            res, err = instant('sum(weighbridge_bytes_total{direction="%s"})' % d)
            got = float(res[0]["value"][1]) if res else None
            failures.check(got == want, "bytes %s: Prometheus %r, truth %d (%s)"
                           % (d, got, want, err))
            res, err = instant('sum(weighbridge_flow_bytes_total{direction="%s"})' % d)
            got = float(res[0]["value"][1]) if res else None
            failures.check(got == want, "flow-update bytes %s: Prometheus %r, truth %d (%s)"
                           % (d, got, want, err))
        print("truth: %d frames, bytes by direction %r" % (frames_truth, bytes_truth))
        # The 1 h ingest window holds every inbound byte of this 60 s scenario.
        peak_truth = truth_ingest_peak(cap + ".truth.jsonl")
        res, err = instant('max(weighbridge_ingest_window_bytes{window="1h"})')
        got = float(res[0]["value"][1]) if res else None
        failures.check(got == peak_truth, "1h ingest window peak: Prometheus %r, truth %d (%s)"
                       % (got, peak_truth, err))
        # The 1 m window slides: it held something during the run, never more than the hour.
        res, err = instant('max_over_time(max(weighbridge_ingest_window_bytes{window="1m"})[2m:1s])')
        got_1m = float(res[0]["value"][1]) if res else None
        failures.check(got_1m is not None and 0 < got_1m <= peak_truth,
                       "1m ingest window peak over the run %r, 1h %d (%s)"
                       % (got_1m, peak_truth, err))
        print("ingest window peaks: 1h %r (truth %d), 1m at most %r" % (got, peak_truth, got_1m))
        # The scenario's upload, download and internal copy must each have raised an alert.
        res, _ = instant("sum by (kind) (weighbridge_alerts_total)")
        kinds = {r["metric"]["kind"]: float(r["value"][1]) for r in res or []}
        for k in ("weight_transfer", "dataset_ingest", "staging_ingest"):
            failures.check(kinds.get(k, 0) >= 1, "no %s alert counted: %r" % (k, kinds))
        # Labels stay bounded: no series carries a port or flow id.
        res, _ = instant('count({__name__=~"weighbridge_.*"})')
        series = float(res[0]["value"][1]) if res else 0
        failures.check(0 < series < 2000, "%s weighbridge series" % series)

        # Every panel's queries: valid now, with data over the run.
        t_end = time.time()
        used = set()
        panels = 0
        for name, d in dashboards:
            for p in d["panels"]:
                panels += 1
                for t in p.get("targets", []):
                    expr = substitute(t["expr"])
                    used |= metric_names(expr)
                    res, err = instant(expr)
                    if not failures.check(err is None, "%s / %s: query %r is invalid: %s"
                                          % (name, p["title"], expr, err)):
                        continue
                    r = prom_api(base, "/api/v1/query_range",
                                 {"query": expr, "start": "%.3f" % t_start,
                                  "end": "%.3f" % t_end, "step": "1"})
                    data = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
                    if name in NO_DATA_HERE:
                        failures.check(r.get("status") == "success", "%s / %s: %r failed: %s"
                                       % (name, p["title"], expr, r.get("error")))
                        continue
                    failures.check(data, "%s / %s: no data for %r (%s)"
                                   % (name, p["title"], expr, r.get("error", "empty")))
        print("%d panels, every query checked against Prometheus" % panels)
        for n in sorted(used):
            if n.startswith(ONLY_WITH_FLOW_PROTOCOLS):
                continue  # NO_DATA_HERE's families: not exported without flow-protocol inputs
            failures.check(n in fams, "a dashboard uses %s, which the sensor does not export" % n)
        rule_used = set()
        for fname, expr in rule_exprs(args.source_dir):
            rule_used |= metric_names(expr)
        failures.check(len(rule_used) >= 5, "found only %r in the rules" % rule_used)
        for n in sorted(rule_used):
            if n.startswith(ONLY_WITH_FLOW_PROTOCOLS):
                continue  # checked with such inputs by integration.flowproto_sampled
            failures.check(n in fams, "a rule uses %s, which the sensor does not export" % n)
        for n in sorted(fams):
            if n in NOT_ON_PANELS or n.startswith(FOREIGN_PREFIXES):
                continue
            failures.check(n in used, "%s is exported but on no dashboard panel" % n)

        # docs/metrics.md lists every family.
        with open(os.path.join(args.source_dir, "docs", "metrics.md"), encoding="utf-8") as fh:
            doc = fh.read()
        for n in sorted(fams):
            failures.check("`%s`" % n in doc, "%s is not in docs/metrics.md" % n)

        # Prometheus loaded every rule group of the shipped files.
        r = prom_api(base, "/api/v1/rules", {})
        groups = {g["name"] for g in r.get("data", {}).get("groups", [])}
        failures.check({"weighbridge.recording", "weighbridge.sensor", "weighbridge.detection",
                        "weighbridge.fleet.recording", "weighbridge.fleet.alerts"} <= groups,
                       "rule groups loaded: %r" % sorted(groups))
        print("elapsed %.1f s" % (time.time() - t_start))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        for log in logs:
            log.close()
        if failures.items:
            for log in ("sensor.log", "prometheus.log"):
                path = os.path.join(work, log)
                if os.path.exists(path):
                    with open(path, encoding="utf-8", errors="replace") as fh:
                        print("---- %s (tail)\n%s" % (log, fh.read()[-3000:]))
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
